//! Deterministic demo data: a tenant's worth of customers that look like a
//! Mexican service desk's (accented names, valid +52 numbers, skewed
//! segments and statuses), with two years of conversations, messages,
//! ratings and tickets, and statistics exactly consistent with those rows.
//! Generation is pure (a seeded ChaCha generator, ids derived from it); the
//! statistics come from the same ledger operations the writers call
//! (`service::ledger`), and the rows are written by `service::seed` in large
//! batches. Imports `service::seed`, `service::ledger` and `domain`, which
//! never import this module.

use chrono::{DateTime, Duration, TimeZone, Utc};
use entity::json::{JsonObject, StringList};
use entity::{agent, conversation, customer, customer_phone, customer_tag, message, ticket};
use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::domain::conversation::{ConversationStatus, MessageDirection, TicketStatus};
use crate::domain::customer::{
    Address, CommunicationHours, CustomerSegment, CustomerSource, CustomerStatus,
};
use crate::domain::search;
use crate::service::ledger;
use crate::service::seed::Batch;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Plan {
    pub customers: u64,
    pub seed: u64,
    pub tenant: String,
    /// The "now" of the data: every time lies in the two years before it.
    pub anchor: DateTime<Utc>,
}

/// The default anchor, so the same seed gives the same rows whenever it runs.
pub fn default_anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

const FIRST_NAMES: &[&str] = &[
    "José",
    "María",
    "Sofía",
    "Andrés",
    "Jesús",
    "Ramón",
    "Inés",
    "Lucía",
    "Raúl",
    "Martín",
    "Verónica",
    "Mónica",
    "Héctor",
    "Adrián",
    "Iván",
    "Óscar",
    "Fátima",
    "Ángel",
    "Julián",
    "Juan",
    "Ana",
    "Luis",
    "Carmen",
    "Miguel",
    "Guadalupe",
    "Francisco",
    "Alejandro",
    "Daniela",
    "Fernanda",
    "Valeria",
    "Diego",
    "Carlos",
    "Jorge",
    "Ricardo",
    "Patricia",
    "Laura",
    "Gabriela",
    "Rosa",
    "Elena",
    "Ximena",
    "Regina",
    "Santiago",
    "Emilio",
    "Renata",
    "Joaquín",
];
const LAST_NAMES: &[&str] = &[
    "Hernández",
    "García",
    "Martínez",
    "López",
    "González",
    "Pérez",
    "Rodríguez",
    "Sánchez",
    "Ramírez",
    "Cruz",
    "Flores",
    "Gómez",
    "Díaz",
    "Reyes",
    "Morales",
    "Jiménez",
    "Gutiérrez",
    "Ruiz",
    "Álvarez",
    "Mendoza",
    "Vázquez",
    "Castillo",
    "Ortiz",
    "Chávez",
    "Domínguez",
    "Núñez",
    "Muñoz",
    "Ibáñez",
    "Peña",
    "Zúñiga",
];
const MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "hotmail.com",
    "yahoo.com.mx",
    "outlook.com",
    "prodigy.net.mx",
];
const TAGS: &[&str] = &[
    "premium",
    "loyal",
    "high-value",
    "wholesale",
    "newsletter",
    "promo-2026",
    "late-payer",
    "support-priority",
    "cancun",
    "cdmx",
    "b2b",
    "returning",
];
const CITIES: &[(&str, &str)] = &[
    ("Ciudad de México", "CDMX"),
    ("Guadalajara", "Jalisco"),
    ("Monterrey", "Nuevo León"),
    ("Mérida", "Yucatán"),
    ("Cancún", "Quintana Roo"),
    ("Puebla", "Puebla"),
    ("Querétaro", "Querétaro"),
    ("León", "Guanajuato"),
];
/// Area codes with the length of their subscriber numbers (10 digits in all).
const AREAS: &[(&str, u32)] = &[
    ("55", 8),
    ("33", 8),
    ("81", 8),
    ("999", 7),
    ("998", 7),
    ("222", 7),
    ("442", 7),
    ("477", 7),
    ("664", 7),
    ("614", 7),
];
const INBOUND: &[&str] = &[
    "Hola, ¿tienen envío a Mérida?",
    "Buenas tardes, mi pedido no ha llegado",
    "¿Cuál es el horario de atención?",
    "Quiero cambiar la dirección de entrega",
    "¿Aceptan pago con tarjeta?",
    "Necesito factura de mi compra",
    "El producto llegó dañado 😞",
    "Gracias por la ayuda",
];
const OUTBOUND: &[&str] = &[
    "¡Hola! Con gusto le ayudo.",
    "Ya revisamos su pedido, llega mañana.",
    "Nuestro horario es de 9:00 a 18:00.",
    "Listo, actualizamos la dirección.",
    "Sí, aceptamos tarjeta y transferencia.",
    "Le enviamos la factura por correo.",
    "Lamentamos el inconveniente, enviamos un reemplazo.",
    "¡A usted! Que tenga buen día.",
];

/// Number of demo agents per tenant.
pub const AGENTS: usize = 25;

/// The generator: one per seed run.
pub struct Generator {
    plan: Plan,
    rng: ChaCha8Rng,
    agents: Vec<Uuid>,
    sequence: u64,
    segment: WeightedIndex<u32>,
    status: WeightedIndex<u32>,
    source: WeightedIndex<u32>,
}

impl Generator {
    /// A generator for a plan.
    pub fn new(plan: Plan) -> anyhow::Result<Self> {
        let rng = ChaCha8Rng::seed_from_u64(plan.seed);
        Ok(Generator {
            plan,
            rng,
            agents: Vec::new(),
            sequence: 0,
            // regular, new, vip, inactive
            segment: WeightedIndex::new([60, 25, 5, 10])?,
            // active, inactive, vip, blocked
            status: WeightedIndex::new([80, 12, 4, 4])?,
            // whatsapp, referral, website, social_media, other
            source: WeightedIndex::new([70, 10, 10, 7, 3])?,
        })
    }

    /// The next id: v7, increasing in the order rows are generated, so every
    /// insert appends to the primary-key and foreign-key indexes instead of
    /// landing on a random page; its random part comes from the seeded generator.
    fn next_id(&mut self) -> Uuid {
        self.sequence += 1;
        let start = (self.plan.anchor - Duration::days(800))
            .timestamp_millis()
            .max(0) as u64;
        let bytes: [u8; 10] = self.rng.gen();
        uuid::Builder::from_unix_timestamp_millis(start + self.sequence, &bytes).into_uuid()
    }

    /// The tenant's agents; call once, before the customers.
    pub fn agents(&mut self) -> Vec<agent::Model> {
        let start = self.plan.anchor - Duration::days(800);
        (0..AGENTS)
            .map(|i| {
                let name = format!(
                    "{} {}",
                    FIRST_NAMES[i % FIRST_NAMES.len()],
                    LAST_NAMES[(i * 7) % LAST_NAMES.len()]
                );
                let email = format!(
                    "{}@clientela.example",
                    search::fold(&name).replace(' ', ".")
                );
                let id = self.next_id();
                self.agents.push(id);
                agent::Model {
                    id,
                    tenant_id: self.plan.tenant.clone(),
                    name,
                    email: Some(email),
                    created_at: start,
                    updated_at: start,
                }
            })
            .collect()
    }

    /// The phone number of customer `index`: unique for every index below
    /// the number of area codes times eight million.
    pub fn phone(index: u64) -> String {
        let (area, digits) = AREAS[(index % AREAS.len() as u64) as usize];
        let j = index / AREAS.len() as u64;
        let span = 8 * 10u64.pow(digits - 1);
        // An affine map with a multiplier coprime to the span is a permutation:
        // distinct j give distinct subscribers, which look random.
        let subscriber = 2 * 10u64.pow(digits - 1) + (j.wrapping_mul(7919) + 1_234_567) % span;
        format!("52{area}{subscriber}")
    }

    fn time_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
        let span = (to - from).num_milliseconds().max(1);
        from + Duration::milliseconds(self.rng.gen_range(0..span))
    }

    /// Customers `from .. to` with all their rows.
    pub fn batch(&mut self, from: u64, to: u64) -> Batch {
        let mut batch = Batch::default();
        for index in from..to {
            self.customer(index, &mut batch);
        }
        batch
    }

    fn customer(&mut self, index: u64, batch: &mut Batch) {
        let anchor = self.plan.anchor;
        let tenant = self.plan.tenant.clone();
        let created_at =
            self.time_between(anchor - Duration::days(730), anchor - Duration::hours(1));
        let id = self.next_id();
        let first = FIRST_NAMES[self.rng.gen_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[self.rng.gen_range(0..LAST_NAMES.len())];
        let phone = Self::phone(index);
        let email = self.rng.gen_bool(0.7).then(|| {
            let domain = MAIL_DOMAINS[self.rng.gen_range(0..MAIL_DOMAINS.len())];
            format!(
                "{}.{}{}@{domain}",
                search::fold(first),
                search::fold(last).replace(' ', ""),
                index % 1000
            )
        });
        let mut tags: Vec<String> = Vec::new();
        for _ in 0..self.rng.gen_range(0..=3u8) {
            let tag = TAGS[self.rng.gen_range(0..TAGS.len())].to_owned();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let segment = [
            CustomerSegment::Regular,
            CustomerSegment::New,
            CustomerSegment::Vip,
            CustomerSegment::Inactive,
        ][self.segment.sample(&mut self.rng)];
        let status = [
            CustomerStatus::Active,
            CustomerStatus::Inactive,
            CustomerStatus::Vip,
            CustomerStatus::Blocked,
        ][self.status.sample(&mut self.rng)];
        let source = [
            CustomerSource::Whatsapp,
            CustomerSource::Referral,
            CustomerSource::Website,
            CustomerSource::SocialMedia,
            CustomerSource::Other,
        ][self.source.sample(&mut self.rng)];
        let (city, state) = CITIES[self.rng.gen_range(0..CITIES.len())];
        let address = self.rng.gen_bool(0.5).then(|| Address {
            street: Some(format!(
                "Calle {} #{}",
                self.rng.gen_range(1..120),
                self.rng.gen_range(1..999)
            )),
            city: Some(city.to_owned()),
            state: Some(state.to_owned()),
            country: Some("México".to_owned()),
            postal_code: Some(format!("{:05}", self.rng.gen_range(1000..99999))),
            coordinates: None,
        });
        let blocked = status == CustomerStatus::Blocked;

        let mut model = customer::Model {
            search_text: search::document(&phone, Some(first), Some(last), email.as_deref()),
            phone_number: phone.clone(),
            first_name: Some(first.to_owned()),
            last_name: Some(last.to_owned()),
            email,
            avatar: None,
            alternative_phones: StringList::default(),
            address,
            tags: StringList(tags.clone()),
            segment,
            source,
            custom_fields: JsonObject(if self.rng.gen_bool(0.2) {
                Map::from_iter([("company".to_owned(), Value::from("Acme Corp"))])
            } else {
                Map::new()
            }),
            preferred_language: if self.rng.gen_bool(0.9) { "es" } else { "en" }.to_owned(),
            communication_hours: self.rng.gen_bool(0.3).then(|| CommunicationHours {
                start: Some("09:00".to_owned()),
                end: Some("18:00".to_owned()),
            }),
            preferred_agent_id: None,
            status,
            status_before_block: blocked.then_some(CustomerStatus::Active),
            is_blocked: blocked,
            block_reason: blocked.then(|| "Spam o comportamiento abusivo".to_owned()),
            ..ledger::new_customer(&tenant, id, created_at)
        };
        batch.phones.push(customer_phone::Model {
            tenant_id: tenant.clone(),
            phone,
            customer_id: id,
        });
        for tag in &tags {
            batch.tags.push(customer_tag::Model {
                customer_id: id,
                tag: tag.clone(),
                tenant_id: tenant.clone(),
            });
        }

        // About ten conversations on average, skewed: many quiet customers, a few busy ones.
        let conversations = (-(1.0 - self.rng.gen::<f64>()).ln() * 10.0).floor() as u32;
        for _ in 0..conversations {
            self.conversation(&mut model, batch);
        }
        batch.customers.push(model);
    }

    fn conversation(&mut self, c: &mut customer::Model, batch: &mut Batch) {
        let anchor = self.plan.anchor;
        let created_at = self.time_between(c.created_at, anchor);
        let id = self.next_id();
        let agent = self
            .agents
            .get(self.rng.gen_range(0..self.agents.len().max(1)))
            .copied();
        let age = anchor - created_at;
        let status = if age > Duration::days(7) || self.rng.gen_bool(0.5) {
            ConversationStatus::Resolved
        } else if self.rng.gen_bool(0.5) {
            ConversationStatus::Open
        } else {
            ConversationStatus::Pending
        };
        // Messages alternate customer and desk, minutes to hours apart.
        let count = 1 + (-(1.0 - self.rng.gen::<f64>()).ln() * 2.0).floor() as u32;
        let mut at = created_at;
        let mut rows = Vec::new();
        for k in 0..count {
            let direction = if k % 2 == 0 {
                MessageDirection::Inbound
            } else {
                MessageDirection::Outbound
            };
            at += Duration::seconds(self.rng.gen_range(5..4 * 3600));
            let texts = if direction == MessageDirection::Inbound {
                INBOUND
            } else {
                OUTBOUND
            };
            let message = message::Model {
                id: self.next_id(),
                tenant_id: c.tenant_id.clone(),
                conversation_id: id,
                customer_id: c.id,
                direction,
                body: texts[self.rng.gen_range(0..texts.len())].to_owned(),
                agent_id: if direction == MessageDirection::Outbound {
                    agent
                } else {
                    None
                },
                sent_at: at,
                created_at: at,
            };
            rows.push((direction, message));
        }
        let last_message_at = rows.last().map(|(_, m)| m.sent_at);
        let resolved = status.is_resolved();
        let rating = (resolved && self.rng.gen_bool(0.4))
            .then(|| [3, 4, 4, 5, 5, 5, 2, 1][self.rng.gen_range(0..8)]);
        let updated_at = last_message_at.unwrap_or(created_at);
        let mut conv = conversation::Model {
            id,
            tenant_id: c.tenant_id.clone(),
            customer_id: c.id,
            status,
            channel: "whatsapp".to_owned(),
            subject: None,
            assigned_agent_id: agent,
            rating: None,
            message_count: 0,
            last_message_at: None,
            activity_at: created_at,
            response_time_ms: 0,
            response_count: 0,
            created_at,
            updated_at,
            resolved_at: resolved.then_some(updated_at),
        };
        // The statistics of both rows, by the writers' own ledger operations.
        ledger::conversation_opened(c, &conv);
        let mut clock = ledger::ReplyClock::default();
        for (direction, m) in &rows {
            clock.push(*direction, m.sent_at);
            ledger::message_added(c, &mut conv, m.sent_at, clock.replies());
        }
        if let Some(r) = rating {
            ledger::rated(c, &mut conv, r);
        }
        if self.rng.gen_bool(0.15) {
            let ticket_at = created_at + Duration::minutes(self.rng.gen_range(1..120));
            let closed = resolved.then_some(updated_at.max(ticket_at));
            batch.tickets.push(ticket::Model {
                id: self.next_id(),
                tenant_id: c.tenant_id.clone(),
                customer_id: c.id,
                conversation_id: Some(id),
                subject: "Seguimiento de pedido".to_owned(),
                status: if closed.is_some() {
                    TicketStatus::Closed
                } else {
                    TicketStatus::Open
                },
                created_at: ticket_at,
                closed_at: closed,
            });
            ledger::ticket_opened(c, ticket_at);
        }
        batch.conversations.push(conv);
        batch.messages.extend(rows.into_iter().map(|(_, m)| m));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::phone;

    fn plan(seed: u64) -> Plan {
        Plan {
            customers: 50,
            seed,
            tenant: "demo".into(),
            anchor: default_anchor(),
        }
    }

    #[test]
    fn generated_phone_numbers_are_valid_mexican_numbers_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for i in (0..2_000).chain(999_000..1_001_000) {
            let p = Generator::phone(i);
            let normalized =
                phone::normalize(&p, phonenumber::country::Id::MX).expect("valid number");
            assert_eq!(normalized.as_str(), p);
            assert!(seen.insert(p), "duplicate at {i}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_rows() {
        let rows = |seed| {
            let mut g = Generator::new(plan(seed)).expect("generator");
            g.agents();
            let b = g.batch(0, 50);
            (b.customers, b.messages.len())
        };
        assert_eq!(rows(7), rows(7));
        assert_ne!(rows(7).0, rows(8).0);
    }

    #[test]
    fn statistics_agree_with_the_generated_rows() {
        let mut g = Generator::new(plan(3)).expect("generator");
        g.agents();
        let b = g.batch(0, 200);
        for c in &b.customers {
            let convs: Vec<_> = b
                .conversations
                .iter()
                .filter(|v| v.customer_id == c.id)
                .collect();
            let msgs: Vec<_> = b
                .messages
                .iter()
                .filter(|m| m.customer_id == c.id)
                .collect();
            assert_eq!(c.total_conversations as usize, convs.len());
            assert_eq!(c.total_messages as usize, msgs.len());
            assert_eq!(
                c.open_conversations + c.resolved_conversations,
                c.total_conversations
            );
            assert_eq!(c.last_message_at, msgs.iter().map(|m| m.sent_at).max());
            let tickets = b.tickets.iter().filter(|t| t.customer_id == c.id).count();
            assert_eq!(c.total_tickets as usize, tickets);
        }
    }
}
