//! `exportLink`: a short-lived URL that downloads an export without putting
//! the caller's token in it.

use async_graphql::{Context, Object, SimpleObject};

use super::inputs::CustomerFilter;
use super::scalars::DateTime;
use super::types::enums::ExportFormat;
use super::{caller, GqlResult};
use crate::auth::Keys;
use crate::service::export_links;

/// A short-lived link that downloads an export without putting the caller's token in a URL.
#[derive(SimpleObject)]
pub struct ExportLink {
    /// Relative to this server: `/api/v2/customers/export?format=...&link=...`; GET it with no Authorization header.
    pub url: String,
    /// When the link stops working.
    pub expires_at: DateTime,
}

/// The export link part of the query root.
#[derive(Default)]
pub struct ExportQuery;

/// The export link part of the query root.
#[Object]
impl ExportQuery {
    /// A link to the caller's export of the customers matching `filter`; it
    /// works for that format and filter only, until `expiresAt`
    /// (`CLIENTELA_EXPORT_LINK_TTL` seconds, default 300).
    async fn export_link(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The file the link downloads.")] format: ExportFormat,
        #[graphql(desc = "Which customers to export; all when omitted.")] filter: Option<
            CustomerFilter,
        >,
    ) -> async_graphql::Result<ExportLink> {
        let (_, actor) = caller(cx)?;
        let keys = cx.data::<std::sync::Arc<Keys>>()?;
        let link = export_links::mint_link(keys, actor, format.into(), &filter.into()).gql()?;
        Ok(ExportLink {
            url: link.url,
            expires_at: DateTime(link.expires_at),
        })
    }
}
