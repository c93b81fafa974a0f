#!/usr/bin/env python3
"""Relays exactly one DNS exchange over UDP on loopback and saves both messages.

usage: capture.py SERVER_PORT OUT_PREFIX CLIENT_ARG...

Binds 127.0.0.1 on a free port, runs the client with every "{port}" in its
arguments replaced by that port, waits for the client's one query, sends it
to the server at 127.0.0.1:SERVER_PORT, returns the server's answer to the
client, and writes OUT_PREFIX.query.hex, OUT_PREFIX.answer.hex (the octets
exactly as they crossed the wire, in lowercase hex) and OUT_PREFIX.txt (what
the client printed). Exits non-zero when any step fails or times out.
"""
import socket
import subprocess
import sys


def main() -> int:
    server_port, prefix, client = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    relay = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    relay.bind(("127.0.0.1", 0))
    relay.settimeout(10)
    port = relay.getsockname()[1]
    args = [a.replace("{port}", str(port)) for a in client]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        query, client_addr = relay.recvfrom(65535)
        upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        upstream.settimeout(5)
        upstream.sendto(query, ("127.0.0.1", server_port))
        answer, _ = upstream.recvfrom(65535)
        relay.sendto(answer, client_addr)
        out, _ = proc.communicate(timeout=10)
    except Exception as e:  # any failure: stop the client and say what happened
        proc.kill()
        print(f"capture: {prefix}: {e}", file=sys.stderr)
        return 1
    with open(prefix + ".query.hex", "w") as f:
        f.write(query.hex() + "\n")
    with open(prefix + ".answer.hex", "w") as f:
        f.write(answer.hex() + "\n")
    with open(prefix + ".txt", "w") as f:
        f.write("$ " + " ".join(client) + "\n" + out)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
