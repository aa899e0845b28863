-- SQLite ceiling: the plain SQL a careful engineer would send for this scenario against
-- Clientela's own schema, no HTTP, no JSON. examples/sql_ceiling.rs runs the statements of a file
-- in order (one "request"), 32 at a time. {{...}} are filled in by bench/run; ?1 is bound to an id.
-- S4: one customer (statistics are columns of the row) and its 5 newest conversations
-- (newest = activity_at desc, id desc: the contract's order). ?1 = one of the 2,000 ids of the
-- HTTP runs, drawn at random per request.
SELECT id, phone_number, first_name, last_name, email, avatar, alternative_phones, address, tags, segment, source, custom_fields, preferred_language, communication_hours, preferred_agent_id, status, is_blocked, block_reason, notes, total_conversations, open_conversations, resolved_conversations, total_messages, total_tickets, response_time_ms, response_count, rating_total, rating_count, first_contact, last_interaction, last_message_at, created_at, updated_at FROM customers WHERE tenant_id = 'default' AND id = ?1;
SELECT id, status, channel, subject, assigned_agent_id, message_count, last_message_at, created_at, updated_at, resolved_at FROM conversations WHERE tenant_id = 'default' AND customer_id = ?1 ORDER BY activity_at DESC, id DESC LIMIT 5;
