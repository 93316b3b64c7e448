-- wrk script: a flood of made-up bearer tokens (a new one on every request) against code
-- display, GET /api/v1/people/P1/code. Prints how the server answered.
--   wrk -t2 -c2000 -d10s -s bogus.lua http://127.0.0.1:8090
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  n, s401, s429, s503, other = 0, 0, 0, 0, 0
  wrk.path = "/api/v1/people/P1/code"
end

function request()
  n = n + 1
  wrk.headers["Authorization"] = string.format("Bearer xk_bogus%02d%012d%08x", id, n, math.random(0, 0x7fffffff))
  return wrk.format()
end

function response(status, headers, body)
  if status == 401 then s401 = s401 + 1
  elseif status == 429 then s429 = s429 + 1
  elseif status == 503 then s503 = s503 + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local a, b, c, d = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("s401"); b = b + t:get("s429"); c = c + t:get("s503"); d = d + t:get("other")
  end
  io.write(string.format("bogus answers: 401 %d, 429 %d, 503 %d, other %d\n", a, b, c, d))
end
