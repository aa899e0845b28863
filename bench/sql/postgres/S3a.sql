-- pgbench script: the plain SQL a careful engineer would send for this scenario against
-- Clientela's own schema, no HTTP, no JSON (bench/run runs it with -M prepared, 32 clients).
-- One pgbench transaction = one API request. {{...}} are filled in by bench/run.
-- S3a: substring search on the folded search_text column (pg_trgm GIN index customers_search_trgm);
-- the search word is folded to lowercase like the API folds it. Page 1 and exact total.
SELECT id, phone_number, first_name, last_name, email, avatar, alternative_phones, address, tags, segment, source, custom_fields, preferred_language, communication_hours, preferred_agent_id, status, is_blocked, block_reason, notes, total_conversations, open_conversations, resolved_conversations, total_messages, total_tickets, response_time_ms, response_count, rating_total, rating_count, first_contact, last_interaction, last_message_at, created_at, updated_at FROM customers WHERE tenant_id = 'default' AND search_text LIKE '%{{SEARCH_NAME}}%' ORDER BY last_interaction DESC, id DESC LIMIT 20 OFFSET 0;
SELECT count(*) FROM customers WHERE tenant_id = 'default' AND search_text LIKE '%{{SEARCH_NAME}}%';
