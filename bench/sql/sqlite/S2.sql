-- SQLite ceiling: the plain SQL a careful engineer would send for this scenario against
-- Clientela's own schema, no HTTP, no JSON. examples/sql_ceiling.rs runs the statements of a file
-- in order (one "request"), 32 at a time. {{...}} are filled in by bench/run; ?1 is bound to an id.
-- S2: status + segment + ANY of two tags (through the customer_tags table), page 1 and exact total.
-- Walks the (tenant_id, segment, last_interaction, id) index (vip: 5 % of the customers) and probes
-- customer_tags per customer. SQLite's statistics keep only an average per index column, so left
-- alone the planner drives from status (active: 80 %) or from the ~25 % of customers with either tag
-- ("id IN (...)", 3-10x slower); the unary + on status keeps it off the status index. If a
-- (tenant_id, status, segment, ...) index appears, drop the +.
SELECT id, phone_number, first_name, last_name, email, avatar, alternative_phones, address, tags, segment, source, custom_fields, preferred_language, communication_hours, preferred_agent_id, status, is_blocked, block_reason, notes, total_conversations, open_conversations, resolved_conversations, total_messages, total_tickets, response_time_ms, response_count, rating_total, rating_count, first_contact, last_interaction, last_message_at, created_at, updated_at FROM customers WHERE tenant_id = 'default' AND +status = 'active' AND segment = 'vip' AND EXISTS (SELECT 1 FROM customer_tags t WHERE t.tenant_id = 'default' AND t.customer_id = customers.id AND t.tag IN ('{{TAG1}}', '{{TAG2}}')) ORDER BY last_interaction DESC, id DESC LIMIT 20 OFFSET 0;
SELECT count(*) FROM customers WHERE tenant_id = 'default' AND +status = 'active' AND segment = 'vip' AND EXISTS (SELECT 1 FROM customer_tags t WHERE t.tenant_id = 'default' AND t.customer_id = customers.id AND t.tag IN ('{{TAG1}}', '{{TAG2}}'));
