//! Mutations.

use async_graphql::{Context, MergedObject, Object, ID};

use super::conversation_mutation::ConversationMutation;

use super::inputs::{CreateCustomerInput, UpdateCustomerInput};
use super::types::enums::TagAction;
use super::types::{Customer, DeleteResult, ImportResult};
use super::{caller, GqlResult};
use crate::domain::ids::CustomerId;
use crate::service::{customers, import};

/// The root of writes, one part per noun.
#[derive(MergedObject, Default)]
pub struct Mutation(
    CustomerMutation,
    ConversationMutation,
    super::history::HistoryMutation,
    super::merges::MergeMutation,
    super::imports::ImportMutation,
);

/// Writes of customers.
#[derive(Default)]
pub struct CustomerMutation;

/// Writes of customers.
#[Object]
impl CustomerMutation {
    /// Creates a customer; a phone number another customer of the tenant holds is a CONFLICT naming that customer.
    async fn create_customer(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The new customer.")] input: CreateCustomerInput,
    ) -> async_graphql::Result<Customer> {
        let (ctx, actor) = caller(cx)?;
        let input = input.into_input().gql()?;
        Ok(Customer::one(
            customers::create(ctx, actor, input).await.gql()?,
        ))
    }

    /// Changes the given fields of a customer.
    async fn update_customer(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The customer to change.")] id: ID,
        #[graphql(desc = "The fields to change; absent ones stay as they are.")]
        input: UpdateCustomerInput,
    ) -> async_graphql::Result<Customer> {
        let (ctx, actor) = caller(cx)?;
        let input = input.into_input().gql()?;
        Ok(Customer::one(
            customers::update(ctx, actor, id.parse::<CustomerId>().gql()?, input)
                .await
                .gql()?,
        ))
    }

    /// Sets, adds or removes tags.
    async fn update_customer_tags(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The customer whose tags change.")] id: ID,
        #[graphql(desc = "The tags to set, add or remove (case-sensitive).")] tags: Vec<String>,
        #[graphql(
            default_with = "Some(TagAction::Set)",
            desc = "What to do with `tags`."
        )]
        action: Option<TagAction>,
    ) -> async_graphql::Result<Customer> {
        let (ctx, actor) = caller(cx)?;
        Ok(Customer::one(
            customers::update_tags(
                ctx,
                actor,
                id.parse::<CustomerId>().gql()?,
                tags,
                action.unwrap_or(TagAction::Set).into(),
            )
            .await
            .gql()?,
        ))
    }

    /// Blocks a customer (status BLOCKED) or unblocks it (the previous status returns).
    async fn set_customer_blocked(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The customer to block or unblock.")] id: ID,
        #[graphql(desc = "True blocks, false unblocks.")] is_blocked: bool,
        #[graphql(desc = "Why the customer is blocked; ignored when unblocking.")]
        block_reason: Option<String>,
    ) -> async_graphql::Result<Customer> {
        let (ctx, actor) = caller(cx)?;
        Ok(Customer::one(
            customers::set_blocked(
                ctx,
                actor,
                id.parse::<CustomerId>().gql()?,
                is_blocked,
                block_reason,
            )
            .await
            .gql()?,
        ))
    }

    /// Soft by default (status becomes INACTIVE); permanent removes the customer with its conversations, messages and tickets. Permanent needs ADMIN.
    async fn delete_customer(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The customer to delete.")] id: ID,
        #[graphql(
            default_with = "Some(false)",
            desc = "True removes the customer for good (needs ADMIN); false deactivates it."
        )]
        permanent: Option<bool>,
    ) -> async_graphql::Result<DeleteResult> {
        let (ctx, actor) = caller(cx)?;
        let deleted = customers::delete(
            ctx,
            actor,
            id.parse::<CustomerId>().gql()?,
            permanent.unwrap_or(false),
        )
        .await
        .gql()?;
        Ok(DeleteResult {
            success: true,
            message: deleted.message.to_owned(),
            permanent: deleted.permanent,
        })
    }

    /// Needs ADMIN. Rows whose phone number already exists, in the store or earlier in the list, are duplicates.
    async fn import_customers(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The customers to create, each validated on its own.")] customers: Vec<
            CreateCustomerInput,
        >,
    ) -> async_graphql::Result<ImportResult> {
        let (ctx, actor) = caller(cx)?;
        let rows = customers
            .into_iter()
            .map(|c| Ok(c.into_input().map_err(error_fields)));
        let rows = futures::stream::iter(rows);
        let report = import::import(ctx, actor, rows).await.gql()?;
        let stored = import::stored_customers(ctx, actor, &report.stored)
            .await
            .gql()?;
        Ok(ImportResult::new(report, stored))
    }
}

fn error_fields(e: crate::error::Error) -> Vec<crate::error::FieldError> {
    match e {
        crate::error::Error::BadUserInput { fields, .. } => fields,
        other => vec![crate::error::FieldError::new("customer", other.to_string())],
    }
}
