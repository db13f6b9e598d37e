-- wrk script: HTTP/1.1 pipelining. Each write carries DEPTH requests for PATH back to back;
-- wrk counts every response. Usage:
--   wrk -t1 -c50 -d5s -s bench/pipeline.lua http://127.0.0.1:PORT -- [DEPTH] [PATH]
-- (defaults 16 and /hello.txt). done() prints one machine-readable line for bench/http.sh.

local depth, path = 16, "/hello.txt"

init = function(args)
   depth = tonumber(args[1] or depth)
   path = args[2] or path
   local r = {}
   for i = 1, depth do
      r[i] = wrk.format(nil, path)
   end
   req = table.concat(r)
end

request = function()
   return req
end

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("BENCH requests=%d bytes=%d duration_us=%d p99_us=%d p50_us=%d"
      .. " connect=%d read=%d write=%d timeout=%d status=%d\n",
      summary.requests, summary.bytes, summary.duration,
      latency:percentile(99), latency:percentile(50),
      e.connect, e.read, e.write, e.timeout, e.status))
end
