-- SQLite ceiling: the plain SQL a careful engineer would send for this scenario against
-- Clientela's own schema, no HTTP, no JSON. examples/sql_ceiling.rs runs the statements of a file
-- in order (one "request"), 32 at a time. {{...}} are filled in by bench/run; ?1 is bound to an id.
-- ST: the dashboard (stats/summary) without counters: one pass over the tenant's customers
-- counts every figure at once (the server reads them from its per-tenant counters instead).
SELECT count(*), sum(status = 'active'), sum(segment = 'vip'), sum(is_blocked), sum(created_at >= strftime('%Y-%m-01T00:00:00', 'now')) FROM customers WHERE tenant_id = 'default';
SELECT segment, count(*) FROM customers WHERE tenant_id = 'default' GROUP BY segment ORDER BY count(*) DESC;
