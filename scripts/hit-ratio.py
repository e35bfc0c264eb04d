#!/usr/bin/env python3
"""Replays a Zipf(0.99) cache-aside trace against a memcached-protocol server.

    scripts/hit-ratio.py PORT [KEYS [REQUESTS]]      (defaults 1 000 000 and 2 000 000)

Key k (rank k of the Zipf distribution) has a fixed size from 50 B to 4 KiB (six in ten under
250 B, one in ten over 1 KiB) and random-byte content. Each request is `mg` (a hit answers HD,
a miss EN); a miss stores the value (`set … noreply`), as a cache-aside client does. Requests
go in pipelined batches of 100, so a key missed twice within one batch misses twice — the
same for every server. Prints the hit ratio. `--key-space` prints the bytes of all values, to
size the cache.
"""
import random
import socket
import sys


def size_of(k):
    h = ((k * 0x9E3779B97F4A7C15) & (2**64 - 1)) >> 40
    if h % 10 <= 5:
        return 50 + h % 200
    if h % 10 <= 8:
        return 250 + h % 750
    return 1000 + h % 3096


def main():
    if sys.argv[1] == "--key-space":
        keys = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
        print(sum(size_of(k) for k in range(keys)))
        return
    port = int(sys.argv[1])
    keys = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    requests = int(sys.argv[3]) if len(sys.argv) > 3 else 2_000_000
    rng = random.Random(99)
    cum, total = [], 0.0
    for rank in range(1, keys + 1):
        total += rank ** -0.99
        cum.append(total)
    trace = rng.choices(range(keys), cum_weights=cum, k=requests)
    payload = rng.randbytes(4096 + 64)
    sock = socket.create_connection(("127.0.0.1", port))
    # Batches are small writes answered by small reads: without this, Nagle's algorithm and
    # the server's delayed ACK stall every batch for 40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = sock.makefile("rb")
    hits = 0
    for start in range(0, requests, 100):
        batch = trace[start:start + 100]
        sock.sendall(b"".join(b"mg k:%07d\r\n" % k for k in batch))
        misses = []
        for k in batch:
            line = reader.readline()
            if line == b"HD\r\n":
                hits += 1
            elif line == b"EN\r\n":
                misses.append(k)
            else:
                raise SystemExit(f"unexpected reply {line!r}")
        if misses:
            out = bytearray()
            for k in misses:
                n = size_of(k)
                at = k % 64
                out += b"set k:%07d 0 0 %d noreply\r\n" % (k, n) + payload[at:at + n] + b"\r\n"
            sock.sendall(bytes(out))
    sock.sendall(b"mn\r\n")
    while reader.readline() != b"MN\r\n":
        pass
    print(f"hit_ratio {hits / requests:.4f} ({hits} of {requests}, {keys} keys)")


main()
