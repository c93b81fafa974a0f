#!/usr/bin/env python3
"""The cluster's benchmark driver (bench/cluster.sh runs it inside its namespace).

  cluster.py propagation N ETCD SIXPN SERVERS...
      N writes through `sixpn db add-instance --etcd`, each of a new app; after
      each, polls every server (ADDR of a `sixpn serve` fed by its own agent)
      until it answers, and prints p50/p99 of write-start -> answered by all and
      of write-returned (committed) -> answered by all.
  cluster.py load N ETCD
      writes N instances straight into etcd (txns of 10,000 puts through its JSON gateway).
  cluster.py churn SECONDS RATE ETCD DB AGENT_PID [PREFIX]
      RATE instance changes per second (txns of RATE/10 puts every 100 ms,
      through etcd's JSON gateway on one kept connection) for
      SECONDS; for each txn, the time until the agent's database holds its
      revision; prints p50/p99 of that lag and the agent's CPU. With PREFIX
      the keys go under PREFIX/sixpn/..., which no agent watches: the same
      etcd and Python load with nothing applied (no lag to time).
"""
import base64, http.client, ipaddress, json, os, random, socket, sqlite3, struct, subprocess, sys, time, urllib.parse

SOURCE = "fdaa:0:1:0:1:0:1:1"   # organization 1, host 1: the querier


def query(server, name, sock):
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 28, 1)
    sock.sendto(q, (server, 53))
    try:
        while True:
            r, _ = sock.recvfrom(4096)
            if r[:2] == q[:2]:
                return (r[3] & 0xf) == 0 and struct.unpack(">H", r[6:8])[0] > 0
    except socket.timeout:
        return False


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def propagation(n, etcd, sixpn, servers):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind((SOURCE, 0))
    sock.settimeout(0.05)
    total, committed, lost = [], [], 0
    for i in range(n):
        app = f"p{i:05d}-{random.randrange(1 << 30):x}"
        address = str(ipaddress.IPv6Address((0xfdaa << 112) | (1 << 80) | (2 << 48) | ((i + 1) << 16) | 1))
        t0 = time.monotonic()
        subprocess.run([sixpn, "db", "add-instance", "--etcd", etcd, "--app", app, "--region", "bench",
                        "--address", address], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t1 = time.monotonic()
        pending = set(servers)
        deadline = t1 + 5
        while pending and time.monotonic() < deadline:
            for s in list(pending):
                if query(s, app + ".internal", sock):
                    pending.discard(s)
            if pending:
                time.sleep(0.001)
        t2 = time.monotonic()
        if pending:
            lost += 1
            continue
        total.append((t2 - t0) * 1000)
        committed.append((t2 - t1) * 1000)
    print(f"propagation over {n} writes, answered by {len(servers)} other hosts' sixpn serve ({lost} not within 5 s):")
    print(f"  write started -> answered by all: p50 {pct(total, 50):.1f} ms, p99 {pct(total, 99):.1f} ms")
    print(f"  write returned -> answered by all: p50 {pct(committed, 50):.1f} ms, p99 {pct(committed, 99):.1f} ms")


def instance(network, host, i):
    address = str(ipaddress.IPv6Address((0xfdaa << 112) | (network << 80) | (host << 48) | (i << 16) | 1))
    value = json.dumps({"version": 1, "app": f"app{i % 1000:04d}", "region": "bench", "id": f"{i:08x}"},
                       separators=(",", ":"))
    return "/sixpn/instances/" + address, value


def load(n, etcd):
    batch = 10000
    gateway = gateway_connection(etcd)
    for start in range(0, n, batch):
        gateway_txn(gateway, [instance(2 + (i >> 20), 3, i & 0xfffff) for i in range(start, min(n, start + batch))])


def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def gateway_connection(etcd):
    """A kept HTTP connection to the first of ETCD's endpoints."""
    url = urllib.parse.urlsplit(etcd.split(",")[0])
    return http.client.HTTPConnection(url.hostname, url.port)


def gateway_txn(connection, puts):
    """One txn of puts through etcd's JSON gateway (/v3/kv/txn) on a kept connection: no process per write."""
    b64 = lambda t: base64.b64encode(t.encode()).decode()
    body = json.dumps({"success": [{"requestPut": {"key": b64(k), "value": b64(v)}} for k, v in puts]})
    connection.request("POST", "/v3/kv/txn", body, {"Content-Type": "application/json"})
    r = connection.getresponse()
    data = r.read()
    if r.status != 200:
        raise RuntimeError(f"etcd txn: HTTP {r.status}: {data[:200]!r}")
    return int(json.loads(data)["header"]["revision"])


def churn(seconds, rate, etcd, db, agent_pid, prefix=None):
    per = max(1, rate // 10)
    lags, pending = [], []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    gateway = gateway_connection(etcd)
    cpu0, t_start = cpu_seconds(agent_pid), time.monotonic()
    n = 0

    def collect():
        nonlocal pending, lags
        (rev,) = conn.execute("SELECT revision FROM replica_position").fetchone()
        now = time.monotonic()
        lags += [(now - t) * 1000 for r, t in pending if r <= rev]
        pending = [p for p in pending if p[0] > rev]

    # A txn of RATE/10 puts every 100 ms, written through one kept HTTP connection
    # (an etcdctl process per txn added its start-up to the lag and a Go process's CPU to the machine).
    while time.monotonic() - t_start < seconds:
        tick = time.monotonic()
        puts = []
        # etcd refuses a txn that puts one key twice: distinct instances per txn.
        for i in random.sample(range(20000), per):
            k, v = instance(9, 4, i)
            puts.append(((prefix or "") + k, v.replace('"bench"', '"r%d"' % random.randrange(3))))
            n += 1
        revision = gateway_txn(gateway, puts)
        if prefix is None:
            pending.append((revision, tick))
        while time.monotonic() - tick < 0.1:
            collect()
            time.sleep(0.002)
    end = time.monotonic() + 5
    while pending and time.monotonic() < end:
        collect()
        time.sleep(0.002)
    elapsed = time.monotonic() - t_start
    cpu = cpu_seconds(agent_pid) - cpu0
    if prefix is not None:
        print(f"churn under {prefix}/ (not watched): {n} instance changes in {elapsed:.1f} s ({n / elapsed:.0f}/s)")
        return
    print(f"churn: {n} instance changes in {elapsed:.1f} s ({n / elapsed:.0f}/s) as {len(lags)} txns; "
          f"{len(pending)} not applied within 5 s")
    print(f"  write (txn started) -> in the agent's database: p50 {pct(lags, 50):.1f} ms, p99 {pct(lags, 99):.1f} ms")
    print(f"  agent CPU: {cpu:.2f} s over {elapsed:.1f} s ({100 * cpu / elapsed:.0f}% of one core)")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "propagation":
        propagation(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:])
    elif cmd == "load":
        load(int(sys.argv[2]), sys.argv[3])
    elif cmd == "churn":
        churn(float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]),
              sys.argv[7] if len(sys.argv) > 7 else None)
