-- wrk's summary on one machine-readable line (scripts/bench parses it):
-- BENCH requests duration_us p50_us p99_us connect read write status timeout
-- No request() or response() callbacks: wrk keeps sending its pre-built request at full speed.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
