//! Subscriptions: change events of the caller's tenant, over graphql-ws at
//! /graphql/ws. The events come from `service::events` (in process on
//! SQLite, through PostgreSQL NOTIFY across instances); a subscriber only
//! ever receives its own tenant's, and loads what it shows with its own token.

use async_graphql::{Context, Object, Subscription as SubscriptionRoot, ID};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};

use super::types::{enums, Conversation, Customer};
use super::{caller, GqlResult};
use crate::domain::ids::CustomerId;
use crate::service::conversations::{self, Conversation as ConversationData};
use crate::service::customers;
use crate::service::events::{ChangeKind, Event};

/// The root of subscriptions.
#[derive(Default)]
pub struct Subscription;

/// Every event a receiver gets, skipping ahead when it fell behind.
fn events(rx: broadcast::Receiver<Event>) -> impl Stream<Item = Event> {
    futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(event) => return Some((event, rx)),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a subscriber fell behind")
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

/// The events of the caller's tenant from now on, of the customer `id` only
/// when one is named (it must be one the caller may see).
async fn tenant_changes(
    cx: &Context<'_>,
    id: Option<ID>,
) -> async_graphql::Result<impl Stream<Item = Event>> {
    let (ctx, actor) = caller(cx)?;
    // Listen before anything else, so no change made while the
    // subscription starts is missed.
    let rx = ctx.events.subscribe();
    let wanted = match id {
        Some(id) => Some(
            customers::get(ctx, actor, id.parse::<CustomerId>().gql()?)
                .await
                .gql()?
                .id,
        ),
        None => None,
    };
    let tenant = actor.tenant.clone();
    Ok(events(rx).filter(move |e| {
        futures::future::ready(e.tenant == tenant && wanted.is_none_or(|w| w == e.customer_id))
    }))
}

/// Change events of the caller's tenant, over graphql-ws at /graphql/ws.
#[SubscriptionRoot]
impl Subscription {
    /// Changes to one customer, or to every customer of the caller's tenant when id is omitted.
    async fn customer_changed(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The customer to watch; every customer of the tenant when omitted.")]
        id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = CustomerEvent>> {
        let changes = tenant_changes(cx, id).await?;
        Ok(changes.filter_map(|e| {
            futures::future::ready(e.conversation.is_none().then_some(CustomerEvent {
                kind: e.kind,
                customer_id: e.customer_id,
            }))
        }))
    }

    /// Conversation changes, optionally for one customer.
    async fn conversation_changed(
        &self,
        cx: &Context<'_>,
        #[graphql(
            desc = "Only conversations of this customer; every conversation of the tenant when omitted."
        )]
        customer_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = ConversationEvent>> {
        let changes = tenant_changes(cx, customer_id).await?;
        Ok(changes.filter_map(|e| {
            futures::future::ready(e.conversation.map(|c| ConversationEvent {
                kind: e.kind,
                conversation: ConversationData::from(*c),
            }))
        }))
    }
}

/// A change of a customer.
pub struct CustomerEvent {
    kind: ChangeKind,
    customer_id: CustomerId,
}

/// A change of a customer.
#[Object]
impl CustomerEvent {
    /// Whether the customer was created, updated or deleted.
    async fn kind(&self) -> enums::ChangeKind {
        self.kind.into()
    }
    /// The id of the customer that changed.
    async fn customer_id(&self) -> ID {
        ID(self.customer_id.to_string())
    }
    /// The customer as it is now; null once deleted.
    async fn customer(&self, cx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        if self.kind == ChangeKind::Deleted {
            return Ok(None);
        }
        let (ctx, actor) = caller(cx)?;
        Ok(customers::find(ctx, actor, self.customer_id)
            .await
            .gql()?
            .map(Customer::one))
    }
}

/// A change of a conversation.
pub struct ConversationEvent {
    kind: ChangeKind,
    conversation: ConversationData,
}

/// A change of a conversation.
#[Object]
impl ConversationEvent {
    /// Whether the conversation was created, updated or deleted.
    async fn kind(&self) -> enums::ChangeKind {
        self.kind.into()
    }
    /// The conversation as the write left it (as it was, when deleted).
    async fn conversation(&self, cx: &Context<'_>) -> async_graphql::Result<Conversation> {
        // Reload unless deleted: a later write may have changed it since.
        if self.kind != ChangeKind::Deleted {
            let (ctx, actor) = caller(cx)?;
            if let Some(now) = conversations::find(ctx, actor, self.conversation.id)
                .await
                .gql()?
            {
                return Ok(Conversation::one(now));
            }
        }
        Ok(Conversation::one(self.conversation.clone()))
    }
}
