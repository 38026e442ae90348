-- SPDX-License-Identifier: GPL-2.0
-- wrk's done() hook for bench/evnf: one JSON line on stdout with the
-- request count, errors and latency percentiles (microseconds), which
-- evnf.py reads. wrk's own text report is printed before it.
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'EVNF_WRK {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
		'"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
		'"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "p99.9": %d, "max": %d}}\n',
		summary.requests, summary.duration, summary.bytes,
		e.connect, e.read, e.write, e.status, e.timeout,
		latency.mean, latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency:percentile(99.9), latency.max))
end
