-- wrk script of bench.http_invoices: every request is a new invoice with its own
-- Idempotency-Key and reference, so nothing is replayed from the idempotency table.
-- BENCH_KEY (the API key) and BENCH_TAG (unique per round) come from the environment.

local counter = 0
local tag = os.getenv("BENCH_TAG") or tostring(os.time())
local key = os.getenv("BENCH_KEY") or ""

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

local thread_id = 0
setup = function(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

request = function()
  counter = counter + 1
  local ref = string.format("%s-%s-%d", tag, tostring(tid or 0), counter)
  wrk.headers["Idempotency-Key"] = ref
  local body = string.format(
    '{"amount":%d,"currency":"EUR","description":"Cantine scolaire","reference":"%s",' ..
    '"payer":{"name":"Camille Martin","email":"camille@example.org"}}',
    1000 + counter % 5000, ref)
  return wrk.format(nil, "/v1/invoices", nil, body)
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,' ..
    '"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
