#!/usr/bin/env python3
"""Busy-desk writer of bench/run: adds messages at a fixed rate through Clientela's GraphQL
`addMessage` mutation, the way a WhatsApp desk writes all day (each message updates its
conversation and its customer's statistics and last interaction in one transaction).

usage: writer.py --url http://127.0.0.1:PORT/graphql --picks FILE --rate 20 --seconds S [--seed X]

--picks FILE  lines "<customer id> <conversation id>": a random conversation of each of a few
              thousand random customers, read from the database by bench/run before the run.
              Message i goes to a pick drawn at random (seeded: the same --seed gives the same
              sequence), directions alternate inbound/outbound.
Token: $AUTH_TOKEN (an agent or admin token of the tenant the picks belong to).

Open loop: message i is due at t0 + i/rate whatever the server's latency, with at most --workers
(8) requests in flight; a slow server makes the writer late (lag), not slower to ask. It stops by
itself after --seconds, or at once on SIGTERM/SIGINT (requests in flight complete, the backlog is
dropped and counted as unsent). stderr gets
"# writer ready" when the connections are up (t0), stdout one line at the end:

  WRITER sent=.. ok=.. errors=.. unsent=.. rate=.. planned=.. seconds=.. p50_ms=.. p99_ms=.. lag_max_ms=..

sent = requests issued, ok = answered with a message id, errors = failed requests, unsent = due
but still waiting for a free worker when the writer was stopped (a server slower than the rate),
rate = ok per second of the writer's run (below --rate when the server could not keep up), lag_max =
the longest a message waited past its due time.
Standard library only.
"""
import argparse
import http.client
import json
import os
import queue
import random
import signal
import sys
import threading
import time
import urllib.parse

MUTATION = "mutation($input: AddMessageInput!) { addMessage(input: $input) { id } }"
INBOUND = ["Hola, ¿siguen teniendo el producto?", "Buenos días, mi pedido no ha llegado.",
           "¿Me pueden enviar la factura?", "Quiero cambiar la dirección de entrega."]
OUTBOUND = ["Con gusto le ayudo, permítame un momento.", "Claro que sí, ya revisé su caso.",
            "Le comparto el número de guía por este medio.", "Su factura ya fue enviada a su correo."]


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


class Client:
    """One keep-alive HTTP connection to the GraphQL endpoint."""

    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = u.hostname, u.port or 80, u.path or "/graphql"
        self.headers = {"Content-Type": "application/json", "Accept": "application/json",
                        "Authorization": "Bearer " + token}
        self.conn = None

    def post(self, query, variables):
        """Returns (data, None) or (None, error text)."""
        body = json.dumps({"query": query, "variables": variables})
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
            self.conn.request("POST", self.path, body, self.headers)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return None, "%s: %s" % (type(e).__name__, e)
        try:
            d = json.loads(raw)
        except ValueError:
            return None, "HTTP %d, unreadable body %r" % (r.status, raw[:200])
        if r.status != 200 or d.get("errors"):
            return None, "HTTP %d %s" % (r.status, json.dumps(d.get("errors"))[:300])
        return d.get("data") or {}, None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--picks", required=True)
    p.add_argument("--rate", type=float, default=20.0)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--seed", default="1")
    p.add_argument("--workers", type=int, default=8)
    a = p.parse_args()
    token = os.environ.get("AUTH_TOKEN", "")
    if not token:
        log("writer: set AUTH_TOKEN")
        sys.exit(2)
    with open(a.picks) as f:
        picks = [line.split() for line in f if len(line.split()) == 2]
    if not picks:
        log("writer: no picks in " + a.picks)
        sys.exit(2)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    rng = random.Random(a.seed)
    planned = int(a.rate * a.seconds + 0.999)
    plan = [(picks[rng.randrange(len(picks))][1], rng.randrange(4)) for _ in range(planned)]

    clients = [Client(a.url, token) for _ in range(max(1, a.workers))]
    for c in clients:  # connections up (and the token good) before t0
        _, err = c.post("{ me { __typename } }", {})
        if err:
            log("writer: the check request failed: " + err)
            sys.exit(2)

    lock = threading.Lock()
    st = {"sent": 0, "ok": 0, "errors": 0, "unsent": 0, "lag_max": 0.0}
    lat, err_samples = [], []
    q = queue.Queue()
    finished = threading.Event()

    def work(client):
        while True:
            item = q.get()
            if item is None:
                return
            i, due = item
            if finished.is_set():  # stopped: what waits is not sent any more
                with lock:
                    st["unsent"] += 1
                continue
            conv, text = plan[i]
            inbound = i % 2 == 0
            body = "%s [bench-desk %d]" % ((INBOUND if inbound else OUTBOUND)[text], i)
            t = time.monotonic()
            data, err = client.post(MUTATION, {"input": {
                "conversationId": conv, "direction": "INBOUND" if inbound else "OUTBOUND", "body": body}})
            if err is None and not (data.get("addMessage") or {}).get("id"):
                err = "no addMessage.id in %r" % (data,)
            took = time.monotonic() - t
            with lock:
                st["sent"] += 1
                st["ok" if err is None else "errors"] += 1
                st["lag_max"] = max(st["lag_max"], t - due)
                lat.append(took)
                if err and len(err_samples) < 3:
                    err_samples.append(err)

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    log("writer ready rate=%g/s seconds=%g planned=%d picks=%d" % (a.rate, a.seconds, planned, len(picks)))

    t0 = time.monotonic()
    end = t0 + a.seconds
    for i in range(planned):
        due = t0 + i / a.rate
        while not stop.is_set() and time.monotonic() < due:
            stop.wait(min(due - time.monotonic(), 0.05))
        if stop.is_set() or time.monotonic() >= end:
            break
        # open loop with a bound: no more than `workers` waiting beyond those in flight
        q.put((i, due))
    t_stop = time.monotonic()
    if stop.is_set():
        finished.set()  # stopped from outside (after the measured run): drop the backlog
    for _ in threads:
        q.put(None)
    for t in threads:
        t.join(20)  # what is in flight completes (HTTP timeout 15 s)
    for c in clients:
        c.close()

    with lock:
        lat.sort()
        pct = lambda x: lat[min(len(lat) - 1, int(x / 100.0 * len(lat)))] * 1000 if lat else 0.0
        elapsed = max(t_stop - t0, 1e-9)
        for e in err_samples:
            log("writer error: " + e)
        print("WRITER sent=%d ok=%d errors=%d unsent=%d rate=%.1f planned=%d seconds=%.2f p50_ms=%.1f p99_ms=%.1f lag_max_ms=%.0f"
              % (st["sent"], st["ok"], st["errors"], st["unsent"], st["ok"] / elapsed, planned, elapsed, pct(50), pct(99),
                 st["lag_max"] * 1000), flush=True)
    sys.exit(0 if st["errors"] == 0 else 1)


if __name__ == "__main__":
    main()
