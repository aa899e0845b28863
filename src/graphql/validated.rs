//! Validation a request need not repeat.
//!
//! The engine validates every request's document against the schema, even
//! one it validated a moment ago: for a customer with its statistics and
//! recent conversations (issue 9's S4) that walk was 88,000 of the 402,000
//! instructions of a request, the largest part of what the GraphQL face
//! spends over the REST one (`callgrind`, `bench/RESULTS.md`, session 19).
//! Its result depends only on the document, the operation and the variables
//! as validation reads them, which a request's [`Verdict`] names; so once a
//! request passed, the next ones with the same verdict are given that
//! result instead ([`Passed`], kept with the cached document).
//!
//! async-graphql validates inside `execute` and lets only a schema
//! extension answer for it ([`Remembered`]). Any extension costs something
//! else: the engine then wraps each value it resolves itself (a field of an
//! object it answers, an item of a list) in the extensions' hooks, some
//! 3,000 instructions each, where validation spends about 1,400 per field
//! of the document. A request whose answer the engine builds from many
//! pieces, such as 50 customers with 5 conversations each (S5, 300 list
//! items, +22 %), loses more to the hooks than it saves. So the extension
//! counts the values its request resolved, and a verdict skips validation
//! only while that count is at most half the document's fields
//! ([`skips`]); the others run on a schema with no extension, whose
//! validation is the engine's `Fast` mode (cost and fragment cycles only:
//! the other rules read only what the verdict names).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, NextValidation,
    ResolveInfo,
};
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value};

use super::documents::{Documents, Passed, Verdict};

/// Request data: where the request's validation is remembered, and what it
/// gave before, if it passed before.
pub struct Remembering {
    pub documents: Documents,
    /// The document's text, as the cache holds it.
    pub text: Arc<str>,
    pub verdict: Verdict,
    /// The document's fields (`Cached::fields`).
    pub fields: usize,
    /// The result of a request with this verdict that passed before.
    pub known: Option<ValidationResult>,
}

/// Whether requests that resolved `resolved` values through the engine's
/// hooks skip validating a document of `fields` fields: when the hooks cost
/// no more than the validation they replace (about 3,000 instructions a
/// value against 1,400 a field).
pub fn skips(resolved: usize, fields: usize) -> bool {
    resolved.saturating_mul(2) <= fields
}

/// The extension that answers validation with what it gave before.
pub struct Remembered;

impl ExtensionFactory for Remembered {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Remember::default())
    }
}

/// One request's [`Remembered`].
#[derive(Default)]
struct Remember {
    /// What validation gave this request (remembered or worked out).
    passed: OnceLock<ValidationResult>,
    /// The values the engine resolved through the hooks.
    resolved: AtomicUsize,
}

#[async_trait::async_trait]
impl Extension for Remember {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let known = ctx.data_opt::<Remembering>().and_then(|r| r.known);
        let result = match known {
            Some(known) => known,
            None => next.run(ctx).await?,
        };
        let _ = self.passed.set(result);
        Ok(result)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        self.resolved.fetch_add(1, Ordering::Relaxed);
        next.run(ctx, info).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        // Only a request that passed validation executes.
        if let (Some(r), Some(&result)) = (ctx.data_opt::<Remembering>(), self.passed.get()) {
            let skips = skips(self.resolved.load(Ordering::Relaxed), r.fields);
            // A verdict that keeps skipping is not written again.
            if r.known.is_none() || !skips {
                r.documents
                    .pass(&r.text, r.verdict, Passed { result, skips });
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::skips;

    #[test]
    fn validation_is_skipped_while_the_hooks_cost_less() {
        assert!(skips(0, 0));
        assert!(skips(6, 62), "a customer with five conversations");
        assert!(skips(31, 62));
        assert!(!skips(32, 62));
        assert!(!skips(301, 16), "fifty customers, five conversations each");
        assert!(!skips(usize::MAX, usize::MAX - 1));
    }
}
