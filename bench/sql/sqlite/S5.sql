-- SQLite ceiling: the plain SQL a careful engineer would send for this scenario against
-- Clientela's own schema, no HTTP, no JSON. examples/sql_ceiling.rs runs the statements of a file
-- in order (one "request"), 32 at a time. {{...}} are filled in by bench/run; ?1 is bound to an id.
-- S5: the first 50 customers (default sort), each with its 5 newest conversations, in one
-- statement. SQLite has no LATERAL; the equivalent that reads only the rows returned is a
-- correlated "rowid IN (... LIMIT 5)" per customer. No total (the GraphQL query selects none).
SELECT c.id, c.first_name, c.last_name, c.phone_number, c.email, c.status, c.segment, c.tags, c.last_interaction,
       v.id, v.status, v.channel, v.subject, v.message_count, v.last_message_at
FROM (SELECT id, first_name, last_name, phone_number, email, status, segment, tags, last_interaction
      FROM customers WHERE tenant_id = 'default' ORDER BY last_interaction DESC, id DESC LIMIT 50) c
LEFT JOIN conversations v ON v.rowid IN (
  SELECT w.rowid FROM conversations w WHERE w.tenant_id = 'default' AND w.customer_id = c.id
  ORDER BY w.activity_at DESC, w.id DESC LIMIT 5)
ORDER BY c.last_interaction DESC, c.id DESC, v.activity_at DESC, v.id DESC;
