-- SQLite ceiling: the plain SQL a careful engineer would send for this scenario against
-- Clientela's own schema, no HTTP, no JSON. examples/sql_ceiling.rs runs the statements of a file
-- in order (one "request"), 32 at a time. {{...}} are filled in by bench/run; ?1 is bound to an id.
-- S1: list page 1, 20 rows, default sort (lastInteraction desc, ties on id desc), and its exact total.
SELECT id, phone_number, first_name, last_name, email, avatar, alternative_phones, address, tags, segment, source, custom_fields, preferred_language, communication_hours, preferred_agent_id, status, is_blocked, block_reason, notes, total_conversations, open_conversations, resolved_conversations, total_messages, total_tickets, response_time_ms, response_count, rating_total, rating_count, first_contact, last_interaction, last_message_at, created_at, updated_at FROM customers WHERE tenant_id = 'default' ORDER BY last_interaction DESC, id DESC LIMIT 20 OFFSET 0;
SELECT count(*) FROM customers WHERE tenant_id = 'default';
