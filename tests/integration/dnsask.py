"""One DNS question over UDP, for the namespace tests' well-behaved clients (test_storm.sh,
test_fairness.sh): asked once from a given source, no retry.

    ask(server, source, name, qtype) -> (reply bytes, milliseconds), or (None, None) after 1 s
    random_names(path, zone, count, seed): a dnsperf file of COUNT random names under ZONE, type A
"""
import random, socket, struct, time

def query(name, qtype, qid, edns=True):
    labels = b"".join(bytes([len(l)]) + l.encode() for l in name.split("."))
    opt = b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 0) if edns else b""
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0) + labels + b"\x00" + struct.pack(">HH", qtype, 1) + opt

def ask(server, source, name, qtype, edns=True):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((source, 0)); s.settimeout(1.0)
    qid = random.getrandbits(16)
    start = time.monotonic()
    s.sendto(query(name, qtype, qid, edns), (server, 53))
    try:
        while True:
            data = s.recv(4096)
            if struct.unpack(">H", data[:2])[0] == qid:
                return data, (time.monotonic() - start) * 1000
    except socket.timeout:
        return None, None
    finally:
        s.close()

def random_names(path, zone, count, seed):
    random.seed(seed)
    with open(path, "w") as f:
        for i in range(count):
            f.write("r%08x.%s A\n" % (random.getrandbits(32), zone))
