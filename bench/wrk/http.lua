-- wrk script for bench/oidc_bench.py. Settings come from the environment:
--   BENCH_MODE=get   BENCH_PATHS=/a,/b         GET each path in turn (S1)
--   BENCH_MODE=get   BENCH_PATHS=/userinfo BENCH_AUTH="Bearer ..."  the same, authorised (S5)
--   BENCH_MODE=post  BENCH_PATH=/token BENCH_BODY=... BENCH_AUTH="Basic ..."   (S2, S5)
-- At the end it prints one line "BENCH_JSON {...}" (latencies in microseconds).

local mode = os.getenv("BENCH_MODE") or "get"

if mode == "post" then
  -- A static request: wrk builds it once and never calls Lua per request.
  wrk.method = "POST"
  wrk.path = os.getenv("BENCH_PATH")
  wrk.body = os.getenv("BENCH_BODY")
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
else
  if os.getenv("BENCH_AUTH") then
    wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")  -- wrk.format uses wrk.headers
  end
  local paths = {}
  for p in string.gmatch(os.getenv("BENCH_PATHS") or "/", "[^,]+") do
    paths[#paths + 1] = p
  end
  local i = 0
  request = function()
    i = i % #paths + 1
    return wrk.format("GET", paths[i])
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nBENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,' ..
    '"max_us":%.1f,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
