-- wrk script of bench/run: one scenario, one face (REST GET or GraphQL POST).
--
--   AUTH_TOKEN=<jwt> wrk -t2 -c32 -d10s -s bench/bench.lua URL -- METHOD PATH BODYFILE IDSFILE
--
-- METHOD   GET or POST
-- PATH     request path ('-': the path of URL); may hold {{ID}}
-- BODYFILE file with the request body ('-': none); may hold {{ID}}
-- IDSFILE  file of ids, one a line ('-': none); each request replaces {{ID}} with one of them,
--          drawn at random (the same sequence on every run: seeded per thread)
-- AUTH_TOKEN (environment) is sent as "Authorization: Bearer <token>" on every request.
--
-- An application error is an HTTP status >= 400, a GraphQL "errors" member or a REST
-- "success":false; socket errors (connect, read, write, timeout) are added to them.
-- done() prints one machine-readable line that bench/run reads:
--   RESULT requests=.. duration_us=.. rps=.. p50_us=.. p99_us=.. errors=.. app_errors=.. sock_errors=.. bytes=..
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function read_all(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

function init(args)
  method = args[1] or "GET"
  path = (args[2] and args[2] ~= "-") and args[2] or wrk.path
  body = (args[3] and args[3] ~= "-") and read_all(args[3]) or nil
  ids = nil
  if args[4] and args[4] ~= "-" then
    ids = {}
    for line in io.lines(args[4]) do
      if #line > 0 then ids[#ids + 1] = line end
    end
    assert(#ids > 0, "no ids in " .. args[4])
  end
  headers = { ["Accept"] = "application/json" }
  if body then headers["Content-Type"] = "application/json" end
  local token = os.getenv("AUTH_TOKEN")
  if token and #token > 0 then headers["Authorization"] = "Bearer " .. token end
  math.randomseed(4242 + tid)
  app_errors = 0
  -- Without ids every request is the same: format it once. With ids, each
  -- id's request is formatted here, once, not per request: substituting
  -- and formatting a GraphQL body per request cost wrk, which shares the
  -- two cores with the server, half again as much CPU as a REST path did.
  if not ids then
    fixed = wrk.format(method, path, headers, body)
  else
    prepared = {}
    for i, id in ipairs(ids) do
      -- gsub with a function: the id is never read as a replacement pattern
      local p = path:gsub("{{ID}}", function() return id end)
      local b = body and body:gsub("{{ID}}", function() return id end) or nil
      prepared[i] = wrk.format(method, p, headers, b)
    end
  end
end

function request()
  if fixed then return fixed end
  return prepared[math.random(#prepared)]
end

function response(status, _, rbody)
  if status >= 400
    or rbody:find('"errors"', 1, true)
    or rbody:find('"success":false', 1, true) then
    app_errors = app_errors + 1
  end
end

function done(summary, latency, _)
  local app = 0
  for _, t in ipairs(threads) do app = app + (t:get("app_errors") or 0) end
  local e = summary.errors
  local sock = e.connect + e.read + e.write + e.timeout
  -- non-2xx/3xx statuses are in e.status too; they are already among app errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d errors=%d app_errors=%d sock_errors=%d bytes=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), app + sock, app, sock, summary.bytes))
end
