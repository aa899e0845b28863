//! Serving connections with bounds that a slow or hostile client cannot
//! stretch: a cap on open connections (in all and per client address), a
//! deadline for each request head (which is also the idle keep-alive
//! timeout), and a send timeout after which a client that accepts no bytes
//! is disconnected, so a stalled download never pins anything for long.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

use crate::config::LimitsConfig;
use crate::slots::{Slot, Slots};

/// What a refused connection is told before it is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: 77\r\nConnection: close\r\n\r\n{\"success\":false,\"error\":\"too many connections\",\"code\":\"SERVICE_UNAVAILABLE\"}";

/// Open connections, in all and per client address.
struct Connections {
    all: Slots<()>,
    per_ip: Slots<IpAddr>,
}

/// One admitted connection; its slots are freed when it drops.
type Admitted = (Slot<()>, Slot<IpAddr>);

impl Connections {
    fn new(limits: &LimitsConfig) -> Self {
        Self {
            all: Slots::new(limits.max_connections.max(1)),
            per_ip: Slots::new(limits.max_connections_per_ip.max(1)),
        }
    }

    /// A place for one more connection from `ip`, or `None` over either cap.
    /// (Only the accept loop admits, so taking the two slots one after the
    /// other cannot make two connections refuse each other.)
    fn admit(&self, ip: IpAddr) -> Option<Admitted> {
        let all = self.all.take(())?;
        let mine = self.per_ip.take(ip)?;
        Some((all, mine))
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting and gives open requests up to `grace` to finish.
///
/// Each request carries [`ConnectInfo<SocketAddr>`] of its client.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &LimitsConfig,
    grace: Duration,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let connections = Connections::new(limits);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout())
        .max_buf_size(64 * 1024);
    let send_timeout = limits.send_timeout();
    // Every connection task holds a clone of `open`; `closed` ends when the
    // last one has dropped. `stop` tells them to finish gracefully.
    let (open, mut closed) = tokio::sync::mpsc::channel::<()>(1);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment, go on.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = connections.admit(peer.ip()) else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut io = TimeoutStream::new(stream);
        io.set_write_timeout(Some(send_timeout));
        let io = TokioIo::new(Box::pin(io));
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = http.serve_connection(io, service).with_upgrades();
        let (open, mut stopping) = (open.clone(), stopping.clone());
        tokio::spawn(async move {
            let (_slot, _open) = (slot, open);
            let mut conn = std::pin::pin!(conn);
            let ended = tokio::select! {
                ended = conn.as_mut() => ended,
                _ = async { stopping.wait_for(|stop| *stop).await.map(|_| ()) } => {
                    // Finish the request in flight, then close.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(open);
    if tokio::time::timeout(grace, closed.recv()).await.is_err() {
        tracing::warn!("requests still open after the shutdown grace period were cut off");
    }
    Ok(())
}

/// Tells a connection over the caps that it is refused, and closes it.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(REFUSAL)).await;
}

/// The client address of a request served by [`serve`], if known.
pub fn client_ip<B>(req: &axum::http::Request<B>) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}
