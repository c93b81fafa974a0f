#!/usr/bin/env python3
"""Writes a sixpn database of a given size, as a third-party writer would:
the schema is taken from docs/schema.md (the contract), not from sixpn.

    generate.py DB --orgs 10000 --apps 100000 --instances 1000000

Organization k has network ID k+1; apps are spread evenly over organizations
and instances over apps; each app runs in up to 3 of 20 regions; instances sit
on hosts that each belong to one region. Also writes DB.queries: a sample of
questions (querier address, name, type) for the lookup benchmark.
"""
import argparse, ipaddress, os, random, re, sqlite3, sys, time

here = os.path.dirname(os.path.abspath(__file__))
schema_md = os.path.join(here, "..", "..", "docs", "schema.md")

def schema_sql():
    text = open(schema_md).read()
    m = re.search(r"```sql\n(.*?)```", text, re.S)
    if not m:
        sys.exit(f"generate.py: no ```sql block in {schema_md}")
    return m.group(1)

def address(network, host, instance, low=2):
    v = (0xfdaa << 112) | (network << 80) | (host << 48) | (instance << 16) | low
    return ipaddress.IPv6Address(v).compressed

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--orgs", type=int, default=10000)
    ap.add_argument("--apps", type=int, default=100000)
    ap.add_argument("--instances", type=int, default=1000000)
    ap.add_argument("--queries", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    for suffix in ("", "-wal", "-shm"):
        try: os.unlink(a.db + suffix)
        except FileNotFoundError: pass

    t0 = time.time()
    db = sqlite3.connect(a.db, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    db.executescript("BEGIN;" + schema_sql() + "COMMIT;")
    regions = [f"r{i:02d}" for i in range(20)]
    hosts = max(16, a.instances // 20)          # about 20 instances per host
    host_region = [regions[h % len(regions)] for h in range(hosts)]
    hosts_in = {r: [h for h in range(hosts) if host_region[h] == r] for r in regions}

    db.execute("BEGIN")
    db.executemany("INSERT INTO orgs (network_id, name) VALUES (?, ?)",
                   ((k + 1, f"org-{k + 1:08x}") for k in range(a.orgs)))
    apps = []  # (app_id, network, name, regions)
    for j in range(a.apps):
        network = j % a.orgs + 1
        apps.append((j + 1, network, f"app{j:06d}", rng.sample(regions, 3)))
    db.executemany("INSERT INTO apps (id, network_id, name) VALUES (?, ?, ?)", ((i, n, name) for i, n, name, _ in apps))

    sample = []
    def rows():
        for i in range(a.instances):
            app_id, network, name, app_regions = apps[i % a.apps]
            region = app_regions[(i // a.apps) % 3]
            host = rng.choice(hosts_in[region])
            instance = i + 1
            addr = address(network, host, instance)
            iid = f"{instance:08x}"
            if rng.random() < a.queries * 4 / a.instances:
                sample.append((addr, name, region, iid))
            yield (app_id, iid, region, host, addr, 1)
    db.executemany("INSERT INTO instances (app_id, id, region, host_id, address, started) VALUES (?, ?, ?, ?, ?, ?)", rows())
    db.executemany("INSERT INTO peers (network_id, name, address, public_key) VALUES (?, ?, ?, NULL)",
                   ((k + 1, "laptop", address(k + 1, 0xffff, 0, 0x101)) for k in range(0, a.orgs, 10)))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()

    with open(a.db + ".queries", "w") as q:
        # Exactly --queries questions whatever the size, so lookup times compare.
        for _ in range(a.queries):
            addr, app, region, iid = rng.choice(sample)
            form = rng.randrange(8)
            name, qtype = [
                (f"{app}.internal", "AAAA"), (f"{region}.{app}.internal", "AAAA"),
                (f"{iid}.vm.{app}.internal", "AAAA"), (f"regions.{app}.internal", "TXT"),
                (f"vms.{app}.internal", "TXT"), (f"top3.nearest.of.{app}.internal", "AAAA"),
                (f"{app}.internal", "A"), (f"nothing.{app}.internal", "AAAA"),
            ][form]
            q.write(f"{addr} {name} {qtype}\n")
    print(f"generate.py: {a.orgs} orgs, {a.apps} apps, {a.instances} instances in {a.db} "
          f"({os.path.getsize(a.db) // 1048576} MiB) in {time.time() - t0:.1f} s", file=sys.stderr)

main()
