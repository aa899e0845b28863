//! Export links: a short-lived URL that downloads one export without the
//! caller's token in it. The link's token is a JWT signed with the export-link
//! key (never a login key), bound to `purpose: "export"`, the caller's tenant,
//! agent and role, the format and the (canonical) filter; it lives
//! `CLIENTELA_EXPORT_LINK_TTL` seconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::customers::CustomerFilter;
use crate::auth::{Actor, Keys, Role};
use crate::error::{Error, Result};

crate::domain::customer::string_enum!(
    /// The file an export writes.
    ExportFormat { Json = "json", Csv = "csv" }
);

/// The path a link downloads from (relative to the server's origin).
pub const EXPORT_PATH: &str = "/api/v2/customers/export";

/// The one purpose export links carry.
const PURPOSE: &str = "export";

/// A minted link.
#[derive(Debug, Clone)]
pub struct ExportLink {
    /// Relative URL: `/api/v2/customers/export?format=...&<filter>&link=<token>`.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// A filter in one canonical spelling: the same customers, the same value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct BoundFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    search: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    segment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
}

impl BoundFilter {
    fn of(f: &CustomerFilter) -> Self {
        let mut tags: Vec<String> = f
            .tags
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        tags.sort();
        tags.dedup();
        Self {
            search: f.search.clone().filter(|s| !s.trim().is_empty()),
            status: f.status.map(|s| s.as_str().to_owned()),
            segment: f.segment.map(|s| s.as_str().to_owned()),
            source: f.source.map(|s| s.as_str().to_owned()),
            tags,
        }
    }
}

/// What a link's token says.
#[derive(Debug, Serialize, Deserialize)]
struct LinkClaims {
    purpose: String,
    sub: String,
    role: String,
    tenant: String,
    format: String,
    filter: BoundFilter,
    exp: u64,
    iat: u64,
}

/// Mints a link to the caller's export of `filter` in `format`.
pub fn mint_link(
    keys: &Keys,
    actor: &Actor,
    format: ExportFormat,
    filter: &CustomerFilter,
) -> Result<ExportLink> {
    filter.validate()?;
    if filter.tags.iter().any(|t| t.contains(',')) {
        return Err(Error::invalid(
            "filter.tags",
            "an export link cannot carry a tag that contains a comma",
        ));
    }
    let bound = BoundFilter::of(filter);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(Error::internal)?;
    let expires = now + keys.link_ttl();
    let claims = LinkClaims {
        purpose: PURPOSE.to_owned(),
        sub: actor.agent.clone(),
        role: actor.role.as_str().to_owned(),
        tenant: actor.tenant.clone(),
        format: format.as_str().to_owned(),
        filter: bound.clone(),
        exp: expires.as_secs(),
        iat: now.as_secs(),
    };
    let token = keys.sign_link(&claims)?;
    let mut pairs: Vec<(&str, &str)> = vec![("format", format.as_str())];
    for (key, value) in [
        ("status", &bound.status),
        ("segment", &bound.segment),
        ("source", &bound.source),
        ("search", &bound.search),
    ] {
        if let Some(value) = value {
            pairs.push((key, value));
        }
    }
    for tag in &bound.tags {
        pairs.push(("tags", tag));
    }
    pairs.push(("link", &token));
    let query = serde_urlencoded::to_string(&pairs).map_err(Error::internal)?;
    let expires_at = DateTime::<Utc>::UNIX_EPOCH + Duration::from_secs(expires.as_secs());
    Ok(ExportLink {
        url: format!("{EXPORT_PATH}?{query}"),
        expires_at,
    })
}

/// Checks a link for an export of `filter` in `format` and returns the caller
/// it was minted for. 401 when the link is expired, tampered or no link; 403
/// when it was minted for another format or filter.
pub fn open_link(
    keys: &Keys,
    token: &str,
    format: ExportFormat,
    filter: &CustomerFilter,
) -> Result<Actor> {
    let claims: LinkClaims = keys.verify_link(token)?;
    if claims.purpose != PURPOSE {
        return Err(Error::Unauthenticated("this token is not an export link"));
    }
    if claims.format != format.as_str() || claims.filter != BoundFilter::of(filter) {
        return Err(Error::Forbidden(
            "this export link is for another format or filter; use its URL unchanged",
        ));
    }
    let role =
        Role::parse(Some(&claims.role)).ok_or(Error::Unauthenticated("export link is invalid"))?;
    if claims.sub.is_empty() || claims.tenant.is_empty() {
        return Err(Error::Unauthenticated("export link is invalid"));
    }
    Ok(Actor {
        agent: claims.sub,
        role,
        tenant: claims.tenant,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::{Config, JwtAlgorithm};
    use crate::domain::customer::CustomerStatus;

    fn config(algorithm: JwtAlgorithm) -> Config {
        Config {
            database_url: None,
            db_max_connections: Some(1),
            jwt_secret: None,
            jwt_algorithm: algorithm,
            jwt_public_key_file: Some(
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/es256-public.pem"),
            ),
            jwt_issuer: None,
            jwt_audience: None,
            default_region: "MX".into(),
            export_link: Default::default(),
            graphql: Default::default(),
            limits: Default::default(),
        }
    }

    fn actor() -> Actor {
        Actor {
            agent: "a1".into(),
            role: Role::Viewer,
            tenant: "acme".into(),
        }
    }

    #[test]
    fn a_link_opens_for_the_same_filter_in_any_spelling() {
        let keys = Keys::new(
            &config(JwtAlgorithm::Hs256),
            Some("a-secret-that-is-long-enough-for-hs256-tokens"),
        )
        .expect("keys");
        let filter = CustomerFilter {
            search: Some("ana".into()),
            status: Some(CustomerStatus::Vip),
            tags: vec!["b".into(), "a".into()],
            ..Default::default()
        };
        let link = mint_link(&keys, &actor(), ExportFormat::Csv, &filter).expect("link");
        let token = link.url.rsplit("link=").next().unwrap_or_default();
        let same = CustomerFilter {
            tags: vec![" a".into(), "b".into(), "a".into()],
            ..filter.clone()
        };
        assert_eq!(
            open_link(&keys, token, ExportFormat::Csv, &same).expect("opens"),
            actor()
        );
        assert!(matches!(
            open_link(&keys, token, ExportFormat::Json, &filter),
            Err(Error::Forbidden(_))
        ));
        let comma = CustomerFilter {
            tags: vec!["a,b".into()],
            ..Default::default()
        };
        assert!(mint_link(&keys, &actor(), ExportFormat::Csv, &comma).is_err());
    }

    #[test]
    fn without_a_link_secret_an_es256_server_cannot_mint_links() {
        let keys = Keys::new(&config(JwtAlgorithm::Es256), None).expect("keys");
        let err = mint_link(
            &keys,
            &actor(),
            ExportFormat::Json,
            &CustomerFilter::default(),
        )
        .expect_err("no key to sign with");
        assert_eq!(err.code(), "SERVICE_UNAVAILABLE");
        assert!(err.to_string().contains("CLIENTELA_EXPORT_LINK_SECRET"));

        let mut with_secret = config(JwtAlgorithm::Es256);
        with_secret.export_link.export_link_secret =
            Some("a-link-secret-that-is-long-enough-for-hs256".into());
        let keys = Keys::new(&with_secret, None).expect("keys");
        assert!(mint_link(
            &keys,
            &actor(),
            ExportFormat::Json,
            &CustomerFilter::default()
        )
        .is_ok());
        with_secret.export_link.export_link_secret = Some("short".into());
        assert!(Keys::new(&with_secret, None).is_err());
    }
}
