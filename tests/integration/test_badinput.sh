#!/usr/bin/env bash
# Bad input: a bounded burst of random and mutated packets over UDP and TCP,
# sent from inside a namespace this test creates, while well-formed queries
# keep being sent and must keep being answered; the server is alive after.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${SIXPN:?set SIXPN to the sixpn binary}"

NS=sx-srv-bad
A=fdaa:0:a:0:1:0:1:2
work=$(mktemp -d /tmp/sx-srv-bad.XXXXXX)
on_exit "rm -rf $work"
db=$work/sixpn.db
web_db "$db"

new_netns $NS
add_addr $NS fdaa::3
add_addr $NS $A
add_addr $NS fd00::1
start_bg sixpn-bad ip netns exec $NS "$SIXPN" serve --db "$db" --threads 2 --io "${SIXPN_IO:-recvmmsg}"
SERVER=$LAST_PID
check "the server answers" wait_for 10 ip netns exec $NS dig @fdaa::3 -b $A +time=1 +tries=1 web.internal AAAA

cat > "$work/burst.py" <<'EOF'
# Sends COUNT bad UDP datagrams and TCP streams at fdaa::3:53 (trusted and
# untrusted sources), with a well-formed probe query every 250 packets; prints
# "probes answered/sent" and exits 1 when any probe went unanswered.
import ipaddress, os, random, socket, struct, sys, time

COUNT = int(sys.argv[1])
SERVER = ("fdaa::3", 53)
TRUSTED, UNTRUSTED = "fdaa:0:a:0:1:0:1:2", "fd00::1"
rng = random.Random(6891)

def query(qid, name=b"\x03web\x08internal\x00", qtype=28, opt=None, qclass=1):
    h = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1 if opt else 0)
    q = name + struct.pack(">HH", qtype, qclass)
    if opt:
        q += b"\x00" + struct.pack(">HHIH", 41, 1232, 0, len(opt)) + opt
    return h + q

def wire(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\x00"

# The web instance's reverse name (PTR, the reverse zone) and CH TXT id.server, beside internal. names.
REVERSE = ipaddress.ip_address("fdaa:0:a:0:1:0:101:2").reverse_pointer
SEEDS = [query(1), query(2, opt=b"\x00\x0a\x00\x08" + os.urandom(8)), query(3, b"\x04_apps\x08internal\x00", 16),
         query(4, wire(REVERSE), 12), query(5, wire("id.server"), 16, qclass=3)]

def mutate(p):
    p = bytearray(p)
    kind = rng.randrange(10)
    if kind == 0:   # truncate anywhere
        return bytes(p[:rng.randrange(len(p) + 1)])
    if kind == 1:   # wild section counts
        p[4:12] = os.urandom(8)
    elif kind == 2: # a compression pointer loop in the question
        p[12:14] = b"\xc0\x0c"
    elif kind == 3: # a pointer forward past the end
        p[12:14] = b"\xc3\xff"
    elif kind == 4: # label longer than 63 / reserved label type
        p[12] = rng.choice([0x40, 0x80, 0x3f, 0xff])
    elif kind == 5: # random flags, opcode, QR
        p[2:4] = os.urandom(2)
    elif kind == 6: # trailing garbage
        p += os.urandom(rng.randrange(1, 64))
    elif kind == 7: # OPT with a bad option length or a huge version
        if len(p) > 20:
            p[-3:] = b"\xff\xff\xff"
    for _ in range(rng.randrange(4)):  # and a few flipped octets
        i = rng.randrange(len(p))
        p[i] ^= 1 << rng.randrange(8)
    return bytes(p)

def bad_packet():
    r = rng.random()
    if r < 0.3:
        return os.urandom(rng.randrange(0, 600))
    if r < 0.35:
        return os.urandom(rng.randrange(4000, 9000))  # bigger than the receive slot
    return mutate(rng.choice(SEEDS))

def udp(source):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.setblocking(False)
    return s

def probe(sock, qid):
    """A well-formed query that must be answered NOERROR with its ID; 3 tries."""
    for _ in range(3):
        sock.sendto(query(qid), SERVER)
        deadline = time.time() + 0.5
        while time.time() < deadline:
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                time.sleep(0.002)
                continue
            if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid and data[3] & 0xf == 0 \
                    and struct.unpack(">H", data[6:8])[0] == 1:
                return True
    return False

def tcp_garbage(source):
    """One connection: a mix of framed bad messages, a valid one, and raw junk; then close."""
    try:
        c = socket.create_connection(SERVER, timeout=1, source_address=(source, 0))
        stream = b""
        for _ in range(rng.randrange(1, 6)):
            m = bad_packet()[:65535]
            stream += struct.pack(">H", len(m)) + m
        stream += struct.pack(">H", 14) + query(9)[:14]  # a frame of a cut-short query
        if rng.random() < 0.5:
            stream += os.urandom(rng.randrange(1, 100))  # junk, maybe a huge length prefix
        c.sendall(stream)
        c.settimeout(0.2)
        try:
            while c.recv(65536):
                pass
        except OSError:
            pass
        c.close()
    except OSError:
        pass

def tcp_probe(qid):
    c = socket.create_connection(SERVER, timeout=2, source_address=(TRUSTED, 0))
    q = query(qid)
    c.sendall(struct.pack(">H", len(q)) + q)
    data = b""
    while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    c.close()
    return len(data) >= 14 and struct.unpack(">H", data[2:4])[0] == qid and data[5] & 0xf == 0

senders = [udp(TRUSTED), udp(UNTRUSTED)]
prober = udp(TRUSTED)
sent = answered = 0
for i in range(COUNT):
    s = senders[0] if i % 5 else senders[1]
    try:
        s.sendto(bad_packet(), SERVER)
    except BlockingIOError:
        time.sleep(0.001)
    except OSError:
        pass
    if i % 500 == 0:
        tcp_garbage(TRUSTED if i % 1000 else UNTRUSTED)
    if i % 250 == 0:
        sent += 1
        answered += probe(prober, (i // 250) % 65536)
    for s2 in senders:  # drain replies so our receive buffers never fill
        try:
            while s2.recv(65536):
                pass
        except OSError:
            pass
tcp_ok = sum(tcp_probe(40000 + k) for k in range(5))
print(f"udp probes answered {answered}/{sent}; tcp probes answered {tcp_ok}/5")
sys.exit(0 if answered == sent and tcp_ok == 5 else 1)
EOF

out=$(ip netns exec $NS timeout 120 python3 "$work/burst.py" 20000 2>&1); rc=$?
echo "  $out"
check "well-formed queries were answered during the burst (UDP and TCP)" test $rc -eq 0
check "the server is still running" kill -0 $SERVER
expect_eq "and still answers" "fdaa:0:a:0:1:0:101:2" \
  "$(ip netns exec $NS dig @fdaa::3 -b $A +time=1 +tries=2 +short web.internal AAAA)"
expect_eq "and still answers over TCP" "fdaa:0:a:0:1:0:101:2" \
  "$(ip netns exec $NS dig @fdaa::3 -b $A +time=1 +tries=2 +tcp +short web.internal AAAA)"
expect_eq "and still answers the reverse zone (a mutated seed)" "00000101.vm.web.internal." \
  "$(ip netns exec $NS dig @fdaa::3 -b $A +time=1 +tries=2 +short -x fdaa:0:a:0:1:0:101:2)"
kill -TERM $SERVER
wait $SERVER; rc=$?
expect_eq "SIGTERM after the burst exits 0" "0" "$rc"
