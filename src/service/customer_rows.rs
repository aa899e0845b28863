//! Customer rows as the writers handle them: finding and locking a
//! customer's row, writing it back, and the phone and tag rows kept beside
//! it (behind the unique-phone rule and the tag filter).
//!
//! Used by the customer, conversation, ticket, import and recount services;
//! imports only `scope` and the crate root of `service`, never another
//! service module.

use entity::{customer, customer_phone, customer_tag};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, IntoActiveModel, QueryFilter, QuerySelect, Set,
};

use uuid::Uuid;

use super::fixed::Fixed;
use super::{insert_chunked, scope};
use crate::auth::Actor;
use crate::domain::ids::CustomerId;
use crate::domain::search;
use crate::error::{Error, Result};

/// The caller's tenant's customer row with this id, or none.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: CustomerId,
) -> Result<Option<customer::Model>> {
    let values = [actor.tenant.as_str().into(), Uuid::from(id).into()];
    Ok(FIND.one(db, values).await?)
}

/// [`find`]'s statement: tenant, id. No `LIMIT` (the key matches one row at
/// most): a bound limit would have PostgreSQL plan it on every call
/// ([`super::plans`]).
static FIND: Fixed<customer::Entity> =
    Fixed::new(|| scope::customers_in("").filter(customer::Column::Id.eq(Uuid::nil())));

/// Loads a customer to change it, locking its row until the transaction ends
/// (PostgreSQL; SQLite has one writer at a time anyway), so concurrent
/// read-modify-write updates of one customer never lose each other's changes.
/// Every write that changes a customer's row (its fields or its statistics)
/// locks it first, customer before conversation, so writers never deadlock.
pub async fn lock<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: CustomerId,
) -> Result<customer::Model> {
    scope::customers(actor)
        .filter(customer::Column::Id.eq(id))
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(Error::NotFound("customer"))
}

/// The placeholder that replaces an erased customer's phone number:
/// `erased-<id without dashes>`, unique since the id is, and never a number
/// anyone can write or look up, since real numbers are digits only.
pub fn placeholder_phone(id: Uuid) -> String {
    format!("erased-{}", id.simple())
}

/// Clears a customer row's personal fields as an erasure does (names,
/// email, avatar, address, notes, block reason, external id, custom fields,
/// alternative numbers; the number becomes [`placeholder_phone`] and the
/// search text follows); the names of those that held a value. The one
/// list of what is personal in a row: the erasure applies it to the stored
/// customer and to the copies merge records keep.
pub fn clear_personal(m: &mut customer::Model) -> Vec<&'static str> {
    let mut erased = Vec::new();
    let mut take = |field: &'static str, had: bool| {
        if had {
            erased.push(field);
        }
    };
    take("firstName", m.first_name.take().is_some());
    take("lastName", m.last_name.take().is_some());
    take("email", m.email.take().is_some());
    take("avatar", m.avatar.take().is_some());
    take("address", m.address.take().is_some());
    take("notes", m.notes.take().is_some());
    take("blockReason", m.block_reason.take().is_some());
    take("externalId", m.external_id.take().is_some());
    take(
        "customFields",
        !std::mem::take(&mut m.custom_fields).0.is_empty(),
    );
    take(
        "alternativePhones",
        !std::mem::take(&mut m.alternative_phones).0.is_empty(),
    );
    let placeholder = placeholder_phone(m.id);
    take("phoneNumber", m.phone_number != placeholder);
    m.phone_number = placeholder;
    m.search_text = search::document(&m.phone_number, None, None, None);
    erased
}

/// Writes every column of a customer row back.
pub async fn save<C: ConnectionTrait>(db: &C, m: customer::Model) -> Result<customer::Model> {
    let mut active = m.clone().into_active_model().reset_all();
    active.id = sea_orm::ActiveValue::Unchanged(m.id);
    active.tenant_id = sea_orm::ActiveValue::Unchanged(m.tenant_id.clone());
    Ok(active.update(db).await?)
}

/// Rows of `customer_phones` for a customer: its number, then `alternatives`.
pub fn phone_rows(
    m: &customer::Model,
    alternatives: &[String],
) -> Vec<customer_phone::ActiveModel> {
    std::iter::once(&m.phone_number)
        .chain(alternatives)
        .map(|p| customer_phone::ActiveModel {
            tenant_id: Set(m.tenant_id.clone()),
            phone: Set(p.clone()),
            customer_id: Set(m.id),
        })
        .collect()
}

/// Rows of `customer_tags` for a customer.
pub fn tag_rows(m: &customer::Model, tags: &[String]) -> Vec<customer_tag::ActiveModel> {
    tags.iter()
        .map(|t| customer_tag::ActiveModel {
            customer_id: Set(m.id),
            tag: Set(t.clone()),
            tenant_id: Set(m.tenant_id.clone()),
        })
        .collect()
}

/// Replaces a customer's phone rows with its number and `alternatives`.
pub async fn replace_phones<C: ConnectionTrait>(
    db: &C,
    m: &customer::Model,
    alternatives: &[String],
) -> Result<()> {
    scope::delete_phones(&m.tenant_id)
        .filter(customer_phone::Column::CustomerId.eq(m.id))
        .exec(db)
        .await?;
    insert_chunked(db, phone_rows(m, alternatives)).await
}

/// Replaces a customer's tag rows.
pub async fn replace_tags<C: ConnectionTrait>(
    db: &C,
    m: &customer::Model,
    tags: &[String],
) -> Result<()> {
    scope::delete_tags(&m.tenant_id)
        .filter(customer_tag::Column::CustomerId.eq(m.id))
        .exec(db)
        .await?;
    insert_chunked(db, tag_rows(m, tags)).await
}

/// The phone row holding one of `phones` in the caller's tenant, other than
/// those of customer `except`; none when every number is free.
pub async fn phone_holder<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    phones: impl IntoIterator<Item = &str>,
    except: Option<CustomerId>,
) -> Result<Option<customer_phone::Model>> {
    let mut q = scope::phones(actor).filter(customer_phone::Column::Phone.is_in(phones));
    if let Some(id) = except {
        q = q.filter(customer_phone::Column::CustomerId.ne(id));
    }
    Ok(q.one(db).await?)
}

#[cfg(test)]
mod tests {
    use sea_orm::{ColumnTrait, QueryFilter, QueryTrait};
    use uuid::Uuid;

    use super::{customer, scope, FIND};

    /// [`FIND`] binds its values where the statement sea-query would build
    /// for this call reads them, on both backends.
    #[test]
    fn find_is_the_statement_sea_query_builds() {
        let id = Uuid::new_v4();
        FIND.assert_builds_as(["acme".into(), id.into()], |backend| {
            scope::customers_in("acme")
                .filter(customer::Column::Id.eq(id))
                .build(backend)
        });
    }
}
