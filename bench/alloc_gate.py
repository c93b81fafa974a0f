"""The zero-allocation gate of bench/alloc.sh, over one ordo-one/benchmark table.

Usage: alloc_gate.py TABLE [--control NAME] NAME...
Fails unless every NAME counted 0 mallocs at p100 (in every sample) over at
least one sample, and, with --control, unless NAME there counted more than 0
at p50 (so a counter that silently counts nothing cannot pass).
"""
import sys

args = sys.argv[2:]
control = None
if args[:1] == ["--control"]:
    control, args = args[1], args[2:]
names = args
# Rows look like: │ Malloc (total) *  │  p0 │ p25 │ p50 │ p75 │ p90 │ p99 │ p100 │ samples │
current, malloc = None, {}
for line in open(sys.argv[1]):
    s = line.strip()
    if s and s[0] not in "│╒╞╘╤╪╧═─":
        # A benchmark's title (or another heading): the rows below are its own.
        current = s if s in names or s == control else None
    elif current and "Malloc (total)" in s:
        cells = [c.strip() for c in s.strip("│").split("│")]
        malloc[current] = dict(zip(["p0", "p25", "p50", "p75", "p90", "p99", "p100", "samples"],
                                   [int(c) for c in cells[1:9]]))
for name in names + ([control] if control else []):
    if name not in malloc:
        sys.exit(f"alloc: could not read the malloc row of {name} in {sys.argv[1]}")
for name in names:
    m = malloc[name]
    print(f"alloc: {name}: {m['p100']} mallocs at most per sample over {m['samples']} samples")
    if m["p100"] != 0 or m["samples"] == 0:
        sys.exit(f"alloc: FAIL: {name} allocates")
if control:
    print(f"alloc: control {control}: {malloc[control]['p50']} mallocs per sample")
    if malloc[control]["p50"] <= 0:
        sys.exit("alloc: FAIL: the control counted no mallocs, so the counter is not counting")
print(f"alloc: PASS: 0 heap allocations ({', '.join(names)})")
