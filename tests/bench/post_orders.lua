-- wrk script: POST /orders over 10 products, then print a JSON summary line.
-- BENCH_TOKEN: the bearer token the requests carry (run.py sets it to the stack operator's).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
local counter = 0

request = function()
  counter = counter + 1
  local product = 5001 + (counter % 10)
  local body = string.format(
    '{"user_id": %d, "product_id": %d, "quantity": 1, "total_amount": "19.99"}', 1 + counter % 1000, product)
  return wrk.format(nil, "/orders", nil, body)
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_s": %.3f, "rps": %.1f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, ' ..
    '"max_ms": %.2f, "errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, errors.connect + errors.read + errors.write + errors.timeout + errors.status, errors.status))
end
