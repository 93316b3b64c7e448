-- wrk script: single venue scans (POST /api/v1/scans), one JSON body per request, taken
-- round-robin from the file named by SCANS (one body per line, made by overload.py).
-- The bearer token is TOKEN. Counts statuses per thread and prints accepted scans/s
-- (status 200) at the end, besides wrk's own request rate (which counts refusals too).
--   SCANS=scans.txt TOKEN=xk_... wrk -t2 -c64 -d10s -s scans.lua http://127.0.0.1:8090
local bodies = {}
for line in io.lines(os.getenv("SCANS")) do bodies[#bodies + 1] = line end
local token = os.getenv("TOKEN")
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  ok, refused, other, i = 0, 0, 0, id * 7919
  wrk.method = "POST"
  wrk.path = "/api/v1/scans"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  i = i + 1
  wrk.body = bodies[(i % #bodies) + 1]
  return wrk.format()
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 503 or status == 429 then refused = refused + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local a, r, o = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("ok"); r = r + t:get("refused"); o = o + t:get("other")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("accepted %d (%.0f scans/s), refused %d, other %d, success %.1f %%\n",
    a, a / secs, r, o, 100 * a / math.max(1, a + r + o)))
end
