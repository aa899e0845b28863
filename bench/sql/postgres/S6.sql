-- pgbench script: the plain SQL a careful engineer would send for this scenario against
-- Clientela's own schema, no HTTP, no JSON (bench/run runs it with -M prepared, 32 clients).
-- One pgbench transaction = one API request. {{...}} are filled in by bench/run.
-- S6: page 200 (OFFSET 3980) by a deferred join: the skipped rows are walked in the
-- (tenant_id, last_interaction, id) index only, and just the 20 rows of the page are read. Plus the total.
SELECT c.id, c.phone_number, c.first_name, c.last_name, c.email, c.avatar, c.alternative_phones, c.address, c.tags, c.segment, c.source, c.custom_fields, c.preferred_language, c.communication_hours, c.preferred_agent_id, c.status, c.is_blocked, c.block_reason, c.notes, c.total_conversations, c.open_conversations, c.resolved_conversations, c.total_messages, c.total_tickets, c.response_time_ms, c.response_count, c.rating_total, c.rating_count, c.first_contact, c.last_interaction, c.last_message_at, c.created_at, c.updated_at
FROM (SELECT id FROM customers WHERE tenant_id = 'default' ORDER BY last_interaction DESC, id DESC LIMIT 20 OFFSET 3980) p
JOIN customers c ON c.tenant_id = 'default' AND c.id = p.id
ORDER BY c.last_interaction DESC, c.id DESC;
SELECT count(*) FROM customers WHERE tenant_id = 'default';
