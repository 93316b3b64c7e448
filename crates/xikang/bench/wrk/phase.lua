-- wrk script for `xikang bench --external wrk`: one phase of the built-in client's load,
-- sent by wrk instead. The driver (`crates/xikang/src/bench.rs`) fetches the tokens and place
-- codes first and writes the phase's requests to the file named by REQS, one a line:
-- METHOD <tab> PATH <tab> BODY <tab> TOKEN (BODY empty for a GET; TOKEN empty for the
-- phase's token, or a resident's own for their code). Environment:
--   REQS         the request file
--   TOKEN        the phase's bearer token (the admin's for an official's code reads, a venue
--                device's for scans)
--   RATE         requests/s over all connections for the paced phase (0 or unset: as fast as
--                the server answers)
--   THREADS      wrk's -t, to split RATE among its threads
-- Each connection starts at its own offset in the file and takes the requests in turn, as
-- the built-in client does. At the end it prints one line the driver reads:
--   XIKANG_PHASE ok=<200s> other=<non-200s> secs=<duration> p50_us=<…> p99_us=<…>
-- Latency is wrk's (from send to answer, every answer). In the paced phase a request's
-- latency counts from when it was sent, not from its slot: if every connection is busy when a
-- slot comes, the wait is not counted (the built-in client counts from the slot).
--   REQS=codes.txt TOKEN=xk_... wrk -t2 -c64 -d10s -s phase.lua http://127.0.0.1:8090
local reqs = {}
for line in io.lines(os.getenv("REQS")) do
  local method, path, body, bearer = line:match("^(%u+)\t([^\t]+)\t([^\t]*)\t?(.*)$")
  if method then reqs[#reqs + 1] = { method, path, body, bearer } end
end
local token = os.getenv("TOKEN")
local rate = tonumber(os.getenv("RATE") or "0") or 0
threads_n = tonumber(os.getenv("THREADS") or "1") or 1
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  ok, other, i = 0, 0, id * 7919
  built = {}
  for k, r in ipairs(reqs) do
    local bearer = (r[4] ~= "" and r[4]) or token
    local headers = { ["Authorization"] = "Bearer " .. bearer }
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
  -- Each request takes the next send slot of its thread (the thread's share of RATE), so the
  -- pace holds whatever the latency; wrk takes whole milliseconds, so a request may go out up
  -- to 1 ms before its slot, never later (unless every connection is busy).
  local ffi = require("ffi")
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } xk_timespec;
    int clock_gettime(int clk, xk_timespec *ts);
  ]]
  local ts = ffi.new("xk_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
  local interval, due = threads_n * 1000 / rate, nil
  function delay()
    local now = now_ms()
    due = due and due + interval or now
    return math.max(0, math.floor(due - now))
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
