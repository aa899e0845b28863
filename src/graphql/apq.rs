//! Apollo automatic persisted queries, with a cache bounded in entries and
//! in bytes of query text. Only authenticated requests reach the engine, so
//! only they can fill it; a document over its size cap never gets here.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, ServerError, ServerResult};
use sha2::{Digest, Sha256};

/// The `persistedQuery` extension of a request.
#[derive(serde::Deserialize)]
struct PersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

/// Parsed documents by the SHA-256 of their text, least recently used
/// dropped first when either bound is reached.
struct Cache {
    entries: lru::LruCache<String, (ExecutableDocument, usize)>,
    bytes: usize,
    max_bytes: usize,
}

impl Cache {
    fn get(&mut self, hash: &str) -> Option<ExecutableDocument> {
        self.entries.get(hash).map(|(doc, _)| doc.clone())
    }

    fn put(&mut self, hash: String, doc: ExecutableDocument, size: usize) {
        if size > self.max_bytes {
            return;
        }
        if let Some((_, old)) = self.entries.put(hash, (doc, size)) {
            self.bytes -= old;
        }
        self.bytes += size;
        while self.bytes > self.max_bytes {
            match self.entries.pop_lru() {
                Some((_, (_, dropped))) => self.bytes -= dropped,
                None => break,
            }
        }
        // `put` may also have pushed one out at the entry bound.
        self.bytes = self.entries.iter().map(|(_, (_, n))| n).sum();
    }
}

/// The extension (`CLIENTELA_GRAPHQL_APQ_CACHE`, `CLIENTELA_GRAPHQL_APQ_CACHE_BYTES`).
#[derive(Clone)]
pub struct PersistedQueries(Arc<Mutex<Cache>>);

impl PersistedQueries {
    /// A cache of at most `entries` documents and `max_bytes` bytes of query text.
    pub fn new(entries: NonZeroUsize, max_bytes: usize) -> Self {
        Self(Arc::new(Mutex::new(Cache {
            entries: lru::LruCache::new(entries),
            bytes: 0,
            max_bytes,
        })))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes of query text held now.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.cache().bytes
    }
}

impl ExtensionFactory for PersistedQueries {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for PersistedQueries {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let Some(value) = request.extensions.remove("persistedQuery") else {
            return next.run(ctx, request).await;
        };
        let persisted: PersistedQuery = async_graphql::from_value(value).map_err(|_| {
            ServerError::new("Invalid \"PersistedQuery\" extension configuration.", None)
        })?;
        if persisted.version != 1 {
            return Err(ServerError::new(
                "only version 1 of the persistedQuery extension is supported",
                None,
            ));
        }
        if request.query.is_empty() {
            // Apollo clients retry with the full query on this exact message.
            let doc = self
                .cache()
                .get(&persisted.sha256_hash)
                .ok_or_else(|| ServerError::new("PersistedQueryNotFound", None))?;
            request.set_parsed_query(doc);
            return next.run(ctx, request).await;
        }
        let hash = format!("{:x}", Sha256::digest(request.query.as_bytes()));
        if persisted.sha256_hash != hash {
            return Err(ServerError::new("provided sha does not match query", None));
        }
        let doc = async_graphql::parser::parse_query(&request.query)?;
        let size = request.query.len();
        self.cache().put(hash, doc.clone(), size);
        request.query = String::new();
        request.set_parsed_query(doc);
        next.run(ctx, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> ExecutableDocument {
        async_graphql::parser::parse_query("{ me { role } }").expect("parse")
    }

    #[test]
    fn the_cache_drops_the_least_recently_used_to_stay_within_its_bytes() {
        let cache = PersistedQueries::new(NonZeroUsize::new(100).expect("nonzero"), 1000);
        cache.cache().put("a".into(), doc(), 400);
        cache.cache().put("b".into(), doc(), 400);
        assert!(cache.cache().get("a").is_some(), "a is now the most recent");
        cache.cache().put("c".into(), doc(), 400);
        assert_eq!(cache.bytes(), 800);
        assert!(cache.cache().get("b").is_none(), "b was the least recent");
        assert!(cache.cache().get("a").is_some() && cache.cache().get("c").is_some());
        cache.cache().put("huge".into(), doc(), 1001);
        assert!(cache.cache().get("huge").is_none(), "over the whole budget");
        assert_eq!(cache.bytes(), 800);
    }

    #[test]
    fn the_cache_keeps_its_entry_bound_too() {
        let cache = PersistedQueries::new(NonZeroUsize::new(2).expect("nonzero"), 1_000_000);
        for key in ["a", "b", "c"] {
            cache.cache().put(key.into(), doc(), 10);
        }
        assert_eq!(cache.bytes(), 20);
        assert!(cache.cache().get("a").is_none());
    }
}
