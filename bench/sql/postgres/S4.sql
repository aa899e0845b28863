-- pgbench script: the plain SQL a careful engineer would send for this scenario against
-- Clientela's own schema, no HTTP, no JSON (bench/run runs it with -M prepared, 32 clients).
-- One pgbench transaction = one API request. {{...}} are filled in by bench/run.
-- S4: one customer (statistics are columns of the row) and its 5 newest conversations
-- (newest = activity_at desc, id desc: the contract's order). The id is one of the same 2,000
-- ids the HTTP runs draw from; pgbench has no string variables, so bench/run loads them into
-- bench.s4_ids (k, id) and each statement picks row :k (a primary-key probe on a 2,000-row table).
\set k random(1, 2000)
SELECT id, phone_number, first_name, last_name, email, avatar, alternative_phones, address, tags, segment, source, custom_fields, preferred_language, communication_hours, preferred_agent_id, status, is_blocked, block_reason, notes, total_conversations, open_conversations, resolved_conversations, total_messages, total_tickets, response_time_ms, response_count, rating_total, rating_count, first_contact, last_interaction, last_message_at, created_at, updated_at FROM customers WHERE tenant_id = 'default' AND id = (SELECT id FROM bench.s4_ids WHERE k = :k);
SELECT id, status, channel, subject, assigned_agent_id, message_count, last_message_at, created_at, updated_at, resolved_at FROM conversations WHERE tenant_id = 'default' AND customer_id = (SELECT id FROM bench.s4_ids WHERE k = :k) ORDER BY activity_at DESC, id DESC LIMIT 5;
