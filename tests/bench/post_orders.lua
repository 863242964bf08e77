-- wrk script: POST /orders as customers do, then print a JSON summary line with every answer counted by status.
-- BENCH_TOKENS: a file of bearer tokens, one a line (run.py writes its customers'); requests take them in turn.
-- BENCH_LINES: lines per order (default 1), each of 1 unit, over BENCH_PRODUCTS products from BENCH_FIRST_PRODUCT.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local lines = tonumber(os.getenv("BENCH_LINES") or "1")
local products = tonumber(os.getenv("BENCH_PRODUCTS") or "10")
local first_product = tonumber(os.getenv("BENCH_FIRST_PRODUCT") or "5001")
local authorizations = {}
for token in io.lines(os.getenv("BENCH_TOKENS")) do
  if token ~= "" then
    authorizations[#authorizations + 1] = "Bearer " .. token
  end
end
local counter = 0
local threads = {}

setup = function(thread)
  threads[#threads + 1] = thread
end

init = function(args)
  -- A global of the thread's own Lua state, so that done() can read it with thread:get.
  statuses = {}
end

request = function()
  counter = counter + 1
  local items = {}
  for i = 0, lines - 1 do
    items[#items + 1] = string.format('{"product_id": %d, "quantity": 1}', first_product + (counter + i) % products)
  end
  wrk.headers["Authorization"] = authorizations[counter % #authorizations + 1]
  return wrk.format(nil, "/orders", nil, '{"lines": [' .. table.concat(items, ", ") .. ']}')
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  local counts, non_2xx = {}, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%d": %d', status, count)
    if status < 200 or status > 299 then
      non_2xx = non_2xx + count
    end
  end
  local errors = summary.errors
  local socket_errors = errors.connect + errors.read + errors.write + errors.timeout
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_s": %.3f, "rps": %.1f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, ' ..
    '"max_ms": %.2f, "errors": %d, "non_2xx": %d, "socket_errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, socket_errors + non_2xx, non_2xx, socket_errors, table.concat(parts, ", ")))
end
