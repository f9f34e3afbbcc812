-- wrk script of bench/bench_serving.py: one random prepared request per call, percentiles as JSON.
--
--   wrk -t2 -c4 -d20s -s bench/wrk_lists.lua http://127.0.0.1:PORT -- REQUESTS_FILE TOKEN SEED
--
-- REQUESTS_FILE: one request a line, tab-separated: METHOD, PATH, Curio-Shopper-Signature ("" for none),
-- JSON body ("" for none). TOKEN: sent as "Authorization: Token TOKEN" ("-" for none). Every thread reads the
-- file once (init) and formats each request once; request() only picks one at random (seeded per thread).
-- "close" adds "Connection: close": every request on a new connection (the bench's warm-ups, so that every
-- worker gets some). done() prints one line "WRK_JSON {...}" with the counts and wrk's latency percentiles (microseconds).

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local reqs = {}
local n = 0

function init(args)
  local path, token, seed, close = args[1], args[2] or "-", tonumber(args[3] or "1"), args[4] == "close"
  for line in io.lines(path) do
    local method, p, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    if method then
      local headers = {}
      if token ~= "-" and token ~= "" then headers["Authorization"] = "Token " .. token end
      if sig ~= "" then headers["Curio-Shopper-Signature"] = sig end
      if close then headers["Connection"] = "close" end
      if body == "" then
        body = nil
      else
        headers["Content-Type"] = "application/json"
      end
      n = n + 1
      reqs[n] = wrk.format(method, p, headers, body)
    end
  end
  if n == 0 then
    error("no requests in " .. path)
  end
  math.randomseed(seed * 1000 + (thread_id or 0))
end

function request()
  return reqs[math.random(n)]
end

function done(summary, latency, requests)
  local e = summary.errors
  local parts = {
    string.format('"requests": %d', summary.requests),
    string.format('"duration_us": %d', summary.duration),
    string.format('"bytes": %d', summary.bytes),
    string.format('"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}',
      e.connect, e.read, e.write, e.status, e.timeout),
    string.format('"min_us": %d', latency.min),
    string.format('"max_us": %d', latency.max),
    string.format('"mean_us": %.1f', latency.mean),
    string.format('"stdev_us": %.1f', latency.stdev),
  }
  local pcts = {}
  for _, p in ipairs({50, 75, 90, 99, 99.9, 99.99}) do
    table.insert(pcts, string.format('"%s": %d', tostring(p), latency:percentile(p)))
  end
  table.insert(parts, '"percentiles_us": {' .. table.concat(pcts, ", ") .. '}')
  io.write("WRK_JSON {" .. table.concat(parts, ", ") .. "}\n")
end
