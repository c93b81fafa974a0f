#!/usr/bin/env python3
"""A stand-in for systemd's NOTIFY_SOCKET: binds a unix datagram socket at PATH and writes
each notification to LOG as one line, "<monotonic seconds> <lines joined by |>". With
--probe SERVER SOURCE NAME, each READY=1 is checked on the spot: an AAAA query for NAME
sent from SOURCE to SERVER port 53 at that moment, and "probe=answered" (NOERROR with an
answer) or "probe=unanswered" appended to the line. Runs until SIGTERM."""
import argparse, os, random, signal, socket, struct, sys, time

def probe(server, source, name):
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", 28, 1)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        s.bind((source, 0))
        s.settimeout(0.5)
        s.sendto(q, (server, 53))
        reply, _ = s.recvfrom(4096)
        rid, flags, _, ancount = struct.unpack(">HHHH", reply[:8])
        return "answered" if rid == qid and flags & 0xF == 0 and ancount > 0 else "unanswered"
    except OSError:
        return "unanswered"
    finally:
        s.close()

def main():
    p = argparse.ArgumentParser()
    p.add_argument("path"); p.add_argument("log")
    p.add_argument("--probe", nargs=3, metavar=("SERVER", "SOURCE", "NAME"))
    a = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try: os.unlink(a.path)
    except FileNotFoundError: pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(a.path)
    os.chmod(a.path, 0o777)  # the server may run as another user
    with open(a.log, "a", buffering=1) as log:
        while True:
            msg = s.recv(4096).decode(errors="replace")
            line = "%.3f %s" % (time.monotonic(), msg.strip().replace("\n", "|"))
            if a.probe and "READY=1" in msg.split("\n"):
                line += " probe=" + probe(*a.probe)
            log.write(line + "\n")

main()
