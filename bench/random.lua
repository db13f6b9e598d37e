-- wrk script: GETs spread uniformly over N files laid out as /dDD/fNNNNNN.txt (DD = i % 100),
-- as bench/cache.sh creates them. Usage:
--   wrk -t1 -c50 -d5s -s bench/random.lua http://127.0.0.1:PORT -- [N] [seq [FROM]]
-- (default 100000; "seq": every file in turn from number FROM instead, to warm a cache up).
-- done() prints one machine-readable line, as bench/pipeline.lua does.

local n, seq, next_i = 100000, false, 0

init = function(args)
   n = tonumber(args[1] or n)
   seq = args[2] == "seq"
   next_i = tonumber(args[3] or 0)
   math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

request = function()
   local i
   if seq then
      i = next_i % n
      next_i = next_i + 1
   else
      i = math.random(0, n - 1)
   end
   return wrk.format(nil, string.format("/d%02d/f%06d.txt", i % 100, i))
end

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("BENCH requests=%d bytes=%d duration_us=%d p99_us=%d p50_us=%d"
      .. " connect=%d read=%d write=%d timeout=%d status=%d\n",
      summary.requests, summary.bytes, summary.duration,
      latency:percentile(99), latency:percentile(50),
      e.connect, e.read, e.write, e.timeout, e.status))
end
