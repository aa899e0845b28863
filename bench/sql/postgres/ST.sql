-- pgbench script: the plain SQL a careful engineer would send for this scenario against
-- Clientela's own schema, no HTTP, no JSON (bench/run runs it with -M prepared, 32 clients).
-- One pgbench transaction = one API request. {{...}} are filled in by bench/run.
-- ST: the dashboard (stats/summary) without counters: one pass over the tenant's customers
-- counts every figure at once (the server reads them from its per-tenant counters instead).
SELECT count(*), count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE segment = 'vip'), count(*) FILTER (WHERE is_blocked), count(*) FILTER (WHERE created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') FROM customers WHERE tenant_id = 'default';
SELECT segment, count(*) FROM customers WHERE tenant_id = 'default' GROUP BY segment ORDER BY count(*) DESC;
