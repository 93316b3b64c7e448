-- wrk script for `xikang bench --external wrk`: one phase of the built-in client's load,
-- sent by wrk instead. The driver (`crates/xikang/src/bench.rs`) fetches the tokens and place
-- codes first and writes the phase's requests to the file named by REQS, one a line:
-- METHOD <tab> PATH <tab> BODY (BODY empty for a GET). Environment:
--   REQS         the request file
--   TOKEN        the bearer token (the admin's for code display, a venue device's for scans)
--   RATE         requests/s over all connections for the paced phase (0 or unset: as fast as
--                the server answers)
--   CONNECTIONS  wrk's -c, to split RATE among connections
-- Each connection starts at its own offset in the file and takes the requests in turn, as
-- the built-in client does. At the end it prints one line the driver reads:
--   XIKANG_PHASE ok=<200s> other=<non-200s> secs=<duration> p50_us=<…> p99_us=<…>
-- Latency is wrk's (from send to answer, every answer). Pacing here is closed-loop (wrk waits
-- `delay()` after each answer), so the paced phase sends a little under RATE and its latency
-- does not count time a request waited to be sent; the built-in client paces open-loop.
--   REQS=codes.txt TOKEN=xk_... wrk -t2 -c64 -d10s -s phase.lua http://127.0.0.1:8090
local reqs = {}
for line in io.lines(os.getenv("REQS")) do
  local method, path, body = line:match("^(%u+)\t([^\t]+)\t(.*)$")
  if method then reqs[#reqs + 1] = { method, path, body } end
end
local token = os.getenv("TOKEN")
local rate = tonumber(os.getenv("RATE") or "0") or 0
local connections = tonumber(os.getenv("CONNECTIONS") or "1") or 1
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  ok, other, i = 0, 0, id * 7919
  built = {}
  for k, r in ipairs(reqs) do
    local headers = { ["Authorization"] = "Bearer " .. token }
    local body = nil
    if r[3] ~= "" then
      headers["Content-Type"] = "application/json"
      body = r[3]
    end
    built[k] = wrk.format(r[1], r[2], headers, body)
  end
end

function request()
  i = i + 1
  return built[(i % #built) + 1]
end

if rate > 0 then
  -- wrk takes whole milliseconds: carry the fraction so the mean interval is exact.
  local interval, carry = connections * 1000 / rate, 0
  function delay()
    carry = carry + interval
    local d = math.floor(carry)
    carry = carry - d
    return d
  end
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("ok"); o = o + t:get("other")
  end
  io.write(string.format("XIKANG_PHASE ok=%d other=%d secs=%.6f p50_us=%d p99_us=%d\n",
    a, o, summary.duration / 1e6, latency:percentile(50), latency:percentile(99)))
end
