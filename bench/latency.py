"""Percentiles of dnsperf -v output, for bench/latency.sh.

dnsperf -v prints one line per answer, "> NOERROR app-0001.internal AAAA 0.000123"
(latency in seconds, the last field). Usage: latency.py DIR RATE SECONDS, where DIR
holds knot.round1, knot.round2, sixpn.round1, sixpn.round2.
"""
import glob
import statistics
import sys

folder, rate, secs = sys.argv[1], sys.argv[2], sys.argv[3]


def percentile(values, p):
    return values[min(len(values) - 1, int(len(values) * p))]


result = {}
for server in ("knot", "sixpn"):
    rounds = []
    for path in sorted(glob.glob(f"{folder}/{server}.round*")):
        lines = open(path).read().splitlines()
        latencies = sorted(float(l.split()[-1]) * 1000 for l in lines if l.startswith("> "))
        if not latencies:
            sys.exit(f"latency: no answers in {path}")
        lost = next((l.split(":", 1)[1].strip() for l in lines if "Queries lost" in l), "?")
        rounds.append((percentile(latencies, 0.5), percentile(latencies, 0.99), percentile(latencies, 0.999),
                       len(latencies), lost))
    p50, p99, p999 = (statistics.median(r[i] for r in rounds) for i in range(3))
    result[server] = p99
    print(f"latency {server:5s} at {rate} qps for {secs} s x {len(rounds)}: p50 {p50:.3f} ms  p99 {p99:.3f} ms  "
          f"p99.9 {p999:.3f} ms  (answers {', '.join(str(r[3]) for r in rounds)}; lost {', '.join(r[4] for r in rounds)})")
print(f"latency p99 sixpn / Knot: {result['sixpn'] / result['knot']:.2f} (below 1.00: sixpn's p99 is lower)")
