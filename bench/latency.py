"""Percentiles of dnsperf -v output, for bench/latency.sh.

dnsperf -v prints one line per answer, "> NOERROR app-0001.internal AAAA 0.000123"
(latency in seconds, the last field). Usage: latency.py DIR RATE SECONDS [SERVER...]
(default knot sixpn), where DIR holds SERVER.round1, SERVER.round2, ... and beside each
SERVER.roundN.cpu ("TICKS CLK_TCK": the server's CPU over that round). The first server
is the base of the p99 ratios.
"""
import glob
import os
import statistics
import sys

folder, rate, secs = sys.argv[1], sys.argv[2], sys.argv[3]
servers = sys.argv[4:] or ["knot", "sixpn"]


def percentile(values, p):
    return values[min(len(values) - 1, int(len(values) * p))]


def label(server):
    return "Knot" if server == "knot" else server


result = {}
for server in servers:
    rounds = []
    cpu = answers = 0.0
    for path in sorted(glob.glob(f"{folder}/{server}.round*[0-9]")):
        lines = open(path).read().splitlines()
        latencies = sorted(float(l.split()[-1]) * 1000 for l in lines if l.startswith("> "))
        if not latencies:
            sys.exit(f"latency: no answers in {path}")
        lost = next((l.split(":", 1)[1].strip() for l in lines if "Queries lost" in l), "?")
        rounds.append((percentile(latencies, 0.5), percentile(latencies, 0.99), percentile(latencies, 0.999),
                       len(latencies), lost))
        if os.path.exists(path + ".cpu"):
            ticks, hz = open(path + ".cpu").read().split()
            cpu += int(ticks) / int(hz)
            answers += len(latencies)
    p50, p99, p999 = (statistics.median(r[i] for r in rounds) for i in range(3))
    result[server] = p99
    per_answer = f"  server CPU {1e6 * cpu / answers:.2f} us/answer" if answers else ""
    print(f"latency {server:5s} at {rate} qps for {secs} s x {len(rounds)}: p50 {p50:.3f} ms  p99 {p99:.3f} ms  "
          f"p99.9 {p999:.3f} ms{per_answer}  (answers {', '.join(str(r[3]) for r in rounds)}; "
          f"lost {', '.join(r[4] for r in rounds)})")
base = servers[0]
for server in servers[1:]:
    print(f"latency p99 {server} / {label(base)}: {result[server] / result[base]:.2f} "
          f"(below 1.00: {server}'s p99 is lower)")
