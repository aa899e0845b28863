//! The duplicate finder: groups of a tenant's customers that are probably
//! one person, each with the reasons that tie them and a confidence.
//!
//! Three reasons, each found by grouping keys in SQL (`GROUP BY key HAVING
//! count(*) > 1`), never by comparing pairs:
//!
//! - **Phone variant**: two customers' numbers (primary or alternative) are
//!   spellings of one another under the WhatsApp rules of
//!   [`crate::domain::phone`] — Mexico's legacy `52 1`, Argentina's mobile
//!   `9`, Brazil's ninth digit. Each number is stored canonically, so the
//!   key folds the variant away; an expression index of migration 8 holds
//!   the key, and the grouping reads that index alone.
//! - **Email**: the same address. Emails are stored trimmed and lowercased,
//!   so equal columns are equal case-insensitively; the `(tenant_id, email)`
//!   index serves the grouping.
//! - **Name and phone suffix**: the same name (accents and case folded as
//!   search folds them, [`search::fold`]) and a number ending in the same
//!   seven digits. SQL groups the suffixes (indexed too); the names of the
//!   customers that share one are folded and compared here, which SQL cannot
//!   do the same way on both databases.
//!
//! Customers tied by any reason, directly or through another customer, form
//! one group. Customers in the trash are left out. Imports `customers` (the
//! view of the members) and `scope`; nothing imports this module but the faces.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use crate::auth::Actor;
use crate::domain::ids::CustomerId;
use crate::domain::search;
use crate::error::{Error, Result};
use crate::service::customers::{self, Customer};
use crate::service::Ctx;

/// The number with its WhatsApp variant folded away; the very expression of
/// the `customer_phones_tenant_variant` index (migration 8), which SQLite
/// uses only for an identical one.
const VARIANT_KEY: &str = "CASE \
    WHEN length(phone) = 13 AND substr(phone, 1, 3) = '521' THEN '52' || substr(phone, 4) \
    WHEN length(phone) = 13 AND substr(phone, 1, 3) = '549' THEN '54' || substr(phone, 4) \
    WHEN length(phone) = 13 AND substr(phone, 1, 2) = '55' AND substr(phone, 5, 1) = '9' \
    AND substr(phone, 6, 1) IN ('6', '7', '8', '9') THEN substr(phone, 1, 4) || substr(phone, 6) \
    ELSE phone END";

/// The last seven digits of a number; the expression of the
/// `customer_phones_tenant_suffix` index (migration 8).
const SUFFIX_KEY: &str = "substr(phone, length(phone) - 6)";

/// Customers of the tenant (not in the trash) with a number whose `{key}`
/// another customer's number shares: `(key, id, first name, last name)`.
/// `{p}` is the tenant's placeholder.
const BY_PHONE_KEY: &str = "SELECT p.k, c.id, c.first_name, c.last_name FROM \
    (SELECT {key} AS k, customer_id FROM customer_phones WHERE tenant_id = {p} AND {key} IN \
      (SELECT {key} FROM customer_phones WHERE tenant_id = {p} \
       GROUP BY {key} HAVING count(DISTINCT customer_id) > 1)) p \
    JOIN customers c ON c.tenant_id = {p} AND c.id = p.customer_id \
    WHERE c.deleted_at IS NULL";

/// Customers of the tenant (not in the trash) whose email another customer has.
const BY_EMAIL: &str = "SELECT email, id, first_name, last_name FROM customers \
    WHERE tenant_id = {p} AND deleted_at IS NULL AND email IN \
      (SELECT email FROM customers WHERE tenant_id = {p} AND email IS NOT NULL \
       GROUP BY email HAVING count(*) > 1)";

/// Why customers are taken for one person.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// Their numbers are WhatsApp variants of one another (`52 1` / `52`,
    /// `54 9` / `54`, a Brazilian mobile with and without its ninth digit).
    PhoneVariant,
    /// The same email address, case-insensitively.
    Email,
    /// The same name (accents and case folded) and numbers ending in the
    /// same seven digits.
    NameAndPhoneSuffix,
}

impl ReasonKind {
    /// How sure this reason alone makes the finder: a shared number or
    /// email is nearly certain, a name with a number's suffix much less.
    pub fn weight(self) -> f64 {
        match self {
            Self::PhoneVariant => 0.95,
            Self::Email => 0.9,
            Self::NameAndPhoneSuffix => 0.6,
        }
    }
}

/// One reason of a group: what the customers share.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    pub kind: ReasonKind,
    /// What they share: the number with its variant folded (`529991234567`),
    /// the email, or the folded name and the seven digits (`jose perez ·
    /// 1234567`).
    pub value: String,
    /// The customers sharing it, by id.
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub customer_ids: Vec<CustomerId>,
}

/// Customers that are probably one person.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateGroup {
    /// Opaque; the group's place in the list, for `after`.
    pub cursor: String,
    /// From 0 to 1: `1 - Π(1 - weight)` over the kinds of its reasons, so
    /// several reasons raise it.
    pub confidence: f64,
    /// The customers, oldest first.
    pub customers: Vec<Customer>,
    pub reasons: Vec<Reason>,
}

/// What to find.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateQuery {
    /// Groups to return, 1 to [`MAX_GROUPS`] (20 when `None`).
    pub first: Option<i64>,
    /// A cursor of a previous page: the groups after it.
    pub after: Option<String>,
    /// Only groups at least this sure (0 to 1).
    pub min_confidence: f64,
}

/// Most groups one page returns.
pub const MAX_GROUPS: i64 = 100;

/// A page of groups, most certain first.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicatePage {
    pub groups: Vec<DuplicateGroup>,
    pub has_next_page: bool,
    /// Groups at least `min_confidence` sure, whatever the cursor.
    pub total_count: usize,
}

/// One key shared by several customers: the reason, its value, who.
type Shared = (ReasonKind, String, BTreeSet<Uuid>);

/// A group before its members are loaded.
struct Found {
    confidence: f64,
    members: BTreeSet<Uuid>,
    reasons: Vec<Shared>,
}

impl Found {
    /// Where the group sorts: most certain first, then by its oldest member
    /// (ids are time-ordered).
    fn place(&self) -> (u32, Uuid) {
        let first = self.members.first().copied().unwrap_or_default();
        (millis(self.confidence), first)
    }
}

/// A confidence in thousandths, for sorting and cursors.
fn millis(confidence: f64) -> u32 {
    // In 0..=1 by construction; the cast cannot truncate.
    (confidence.clamp(0.0, 1.0) * 1000.0).round() as u32
}

fn cursor_of((confidence, id): (u32, Uuid)) -> String {
    format!("{confidence:04}.{id}")
}

fn parse_cursor(text: &str) -> Result<(u32, Uuid)> {
    let bad = || Error::invalid("after", "not a cursor of this list");
    let (confidence, id) = text.split_once('.').ok_or_else(bad)?;
    Ok((
        confidence.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

/// `1 - Π(1 - weight)` over the distinct kinds.
fn confidence(kinds: &BTreeSet<ReasonKind>) -> f64 {
    let doubt: f64 = kinds.iter().map(|k| 1.0 - k.weight()).product();
    (1000.0 * (1.0 - doubt)).round() / 1000.0
}

/// A customer's folded full name, or none without one.
fn name_key(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let name = [first, last]
        .into_iter()
        .flatten()
        .map(search::fold)
        .map(|part| part.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

/// Rows of `(key, id, first name, last name)`.
type KeyedRow = (String, Uuid, Option<String>, Option<String>);

async fn keyed(ctx: &Ctx, tenant: &str, template: &str, key: &str) -> Result<Vec<KeyedRow>> {
    let backend = ctx.db.get_database_backend();
    let p = match backend {
        DbBackend::Postgres => "$1",
        _ => "?1",
    };
    let sql = template.replace("{key}", key).replace("{p}", p);
    let rows = ctx
        .db
        .query_all(Statement::from_sql_and_values(
            backend,
            sql,
            [tenant.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok((
                row.try_get_by_index(0)?,
                row.try_get_by_index(1)?,
                row.try_get_by_index(2)?,
                row.try_get_by_index(3)?,
            ))
        })
        .collect::<std::result::Result<_, sea_orm::DbErr>>()
        .map_err(Error::from)
}

/// Groups rows by key; the keys shared by two or more customers.
fn shared(kind: ReasonKind, rows: impl IntoIterator<Item = (String, Uuid)>) -> Vec<Shared> {
    let mut by_key: BTreeMap<String, BTreeSet<Uuid>> = BTreeMap::new();
    for (key, id) in rows {
        by_key.entry(key).or_default().insert(id);
    }
    by_key
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(key, ids)| (kind, key, ids))
        .collect()
}

/// Every key of the tenant shared by two or more customers not in the trash.
async fn shared_keys(ctx: &Ctx, tenant: &str) -> Result<Vec<Shared>> {
    let (variants, emails, suffixes) = tokio::try_join!(
        keyed(ctx, tenant, BY_PHONE_KEY, VARIANT_KEY),
        keyed(ctx, tenant, BY_EMAIL, ""),
        keyed(ctx, tenant, BY_PHONE_KEY, SUFFIX_KEY),
    )?;
    let mut out = shared(
        ReasonKind::PhoneVariant,
        variants.into_iter().map(|(k, id, ..)| (k, id)),
    );
    out.extend(shared(
        ReasonKind::Email,
        emails.into_iter().map(|(k, id, ..)| (k, id)),
    ));
    out.extend(shared(
        ReasonKind::NameAndPhoneSuffix,
        suffixes
            .into_iter()
            .filter_map(|(suffix, id, first, last)| {
                let name = name_key(first.as_deref(), last.as_deref())?;
                Some((format!("{name} · {suffix}"), id))
            }),
    ));
    Ok(out)
}

/// Customers tied by any shared key, directly or through others, as groups.
fn groups(keys: Vec<Shared>) -> Vec<Found> {
    // Union-find over the customers that share anything.
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    let mut parent: Vec<usize> = Vec::new();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (_, _, ids) in &keys {
        let mut first: Option<usize> = None;
        for id in ids {
            let i = *index.entry(*id).or_insert_with(|| {
                parent.push(parent.len());
                parent.len() - 1
            });
            match first {
                None => first = Some(i),
                Some(f) => {
                    let (a, b) = (root(&mut parent, f), root(&mut parent, i));
                    parent[b] = a;
                }
            }
        }
    }
    let mut by_root: BTreeMap<usize, Found> = BTreeMap::new();
    for (kind, value, ids) in keys {
        let Some(first) = ids.first().and_then(|id| index.get(id)).copied() else {
            continue;
        };
        let r = root(&mut parent, first);
        let found = by_root.entry(r).or_insert_with(|| Found {
            confidence: 0.0,
            members: BTreeSet::new(),
            reasons: Vec::new(),
        });
        found.members.extend(ids.iter().copied());
        found.reasons.push((kind, value, ids));
    }
    let mut out: Vec<Found> = by_root
        .into_values()
        .map(|mut f| {
            f.reasons.sort();
            let kinds = f.reasons.iter().map(|(k, ..)| *k).collect();
            f.confidence = confidence(&kinds);
            f
        })
        .collect();
    out.sort_by(|a, b| {
        let (ca, ia) = a.place();
        let (cb, ib) = b.place();
        cb.cmp(&ca).then(ia.cmp(&ib))
    });
    out
}

/// The tenant's groups of probable duplicates, most certain first.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn find(ctx: &Ctx, actor: &Actor, query: &DuplicateQuery) -> Result<DuplicatePage> {
    let first = query.first.unwrap_or(20);
    if !(0..=MAX_GROUPS).contains(&first) {
        return Err(Error::invalid(
            "first",
            format!("must be between 0 and {MAX_GROUPS}"),
        ));
    }
    if !(0.0..=1.0).contains(&query.min_confidence) {
        return Err(Error::invalid("minConfidence", "must be between 0 and 1"));
    }
    let after = query.after.as_deref().map(parse_cursor).transpose()?;
    let floor = millis(query.min_confidence);
    let all: Vec<Found> = groups(shared_keys(ctx, &actor.tenant).await?)
        .into_iter()
        .filter(|g| millis(g.confidence) >= floor)
        .collect();
    let total_count = all.len();
    let mut rest = all.into_iter().skip_while(|g| {
        after.is_some_and(|(c, id)| {
            let (gc, gid) = g.place();
            gc > c || (gc == c && gid <= id)
        })
    });
    let page: Vec<Found> = rest.by_ref().take(first as usize).collect();
    let has_next_page = rest.next().is_some();
    let ids: Vec<CustomerId> = page
        .iter()
        .flat_map(|g| g.members.iter().copied().map(CustomerId::from))
        .collect();
    let mut loaded: HashMap<CustomerId, Customer> = customers::by_ids(ctx, actor, &ids)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let groups = page
        .into_iter()
        .map(|g| DuplicateGroup {
            cursor: cursor_of(g.place()),
            confidence: g.confidence,
            customers: g
                .members
                .iter()
                .filter_map(|id| loaded.remove(&CustomerId::from(*id)))
                .collect(),
            reasons: g
                .reasons
                .into_iter()
                .map(|(kind, value, ids)| Reason {
                    kind,
                    value,
                    customer_ids: ids.into_iter().map(CustomerId::from).collect(),
                })
                .collect(),
        })
        .collect();
    Ok(DuplicatePage {
        groups,
        has_next_page,
        total_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn several_reasons_raise_the_confidence() {
        let one = |k| confidence(&BTreeSet::from([k]));
        assert_eq!(one(ReasonKind::PhoneVariant), 0.95);
        assert_eq!(one(ReasonKind::Email), 0.9);
        assert_eq!(one(ReasonKind::NameAndPhoneSuffix), 0.6);
        let both = confidence(&BTreeSet::from([
            ReasonKind::Email,
            ReasonKind::NameAndPhoneSuffix,
        ]));
        assert_eq!(both, 0.96);
        assert!(both > one(ReasonKind::Email));
    }

    #[test]
    fn names_fold_accents_case_and_spaces() {
        assert_eq!(
            name_key(Some(" José  María "), Some("PÉREZ")),
            Some("jose maria perez".to_owned())
        );
        assert_eq!(name_key(None, Some("Pérez")), Some("perez".to_owned()));
        assert_eq!(name_key(Some("  "), None), None);
        assert_eq!(name_key(None, None), None);
    }

    #[test]
    fn customers_tied_through_another_form_one_group_sorted_by_confidence() {
        let keys = vec![
            (
                ReasonKind::NameAndPhoneSuffix,
                "ana · 1234567".to_owned(),
                BTreeSet::from([id(5), id(6)]),
            ),
            (
                ReasonKind::Email,
                "a@x.com".to_owned(),
                BTreeSet::from([id(1), id(2)]),
            ),
            (
                ReasonKind::PhoneVariant,
                "529991234567".to_owned(),
                BTreeSet::from([id(2), id(3)]),
            ),
        ];
        let found = groups(keys);
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0].members,
            BTreeSet::from([id(1), id(2), id(3)]),
            "1 and 3 are tied through 2"
        );
        assert_eq!(found[0].confidence, 0.995);
        assert_eq!(found[1].members, BTreeSet::from([id(5), id(6)]));
        assert_eq!(found[1].confidence, 0.6);
    }

    #[tokio::test]
    async fn sqlite_groups_numbers_through_the_expression_indexes_of_migration_8() {
        let db = crate::db::connect_and_migrate("sqlite::memory:", 1)
            .await
            .expect("migrate");
        for (key, index) in [
            (VARIANT_KEY, "customer_phones_tenant_variant"),
            (SUFFIX_KEY, "customer_phones_tenant_suffix"),
        ] {
            let sql = BY_PHONE_KEY.replace("{key}", key).replace("{p}", "'t'");
            let rows = db
                .query_all(Statement::from_string(
                    DbBackend::Sqlite,
                    format!("EXPLAIN QUERY PLAN {sql}"),
                ))
                .await
                .expect("plan");
            let plan: Vec<String> = rows
                .iter()
                .map(|r| r.try_get_by_index::<String>(3).unwrap_or_default())
                .collect();
            assert!(
                plan.iter().filter(|l| l.contains(index)).count() >= 2,
                "both the grouping and the lookup use {index}: {plan:#?}"
            );
        }
    }

    #[test]
    fn cursors_read_back() {
        let place = (960, id(42));
        assert_eq!(parse_cursor(&cursor_of(place)).ok(), Some(place));
        assert!(parse_cursor("nonsense").is_err());
        assert!(parse_cursor("12.notauuid").is_err());
    }
}
