-- pgbench script: the plain SQL a careful engineer would send for this scenario against
-- Clientela's own schema, no HTTP, no JSON (bench/run runs it with -M prepared, 32 clients).
-- One pgbench transaction = one API request. {{...}} are filled in by bench/run.
-- S5: the first 50 customers (default sort), each with its 5 newest conversations, in one
-- statement: a per-parent LATERAL ... LIMIT 5 reads only the rows it returns. No total (the
-- GraphQL query selects none).
SELECT c.id, c.first_name, c.last_name, c.phone_number, c.email, c.status, c.segment, c.tags, c.last_interaction,
       v.id, v.status, v.channel, v.subject, v.message_count, v.last_message_at
FROM (SELECT id, first_name, last_name, phone_number, email, status, segment, tags, last_interaction
      FROM customers WHERE tenant_id = 'default' ORDER BY last_interaction DESC, id DESC LIMIT 50) c
LEFT JOIN LATERAL (
  SELECT id, status, channel, subject, message_count, last_message_at, activity_at FROM conversations
  WHERE tenant_id = 'default' AND customer_id = c.id ORDER BY activity_at DESC, id DESC LIMIT 5) v ON true
ORDER BY c.last_interaction DESC, c.id DESC, v.activity_at DESC, v.id DESC;
