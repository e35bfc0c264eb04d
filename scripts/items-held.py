#!/usr/bin/env python3
"""Fills a memcached-protocol server with values and prints how many it still holds.

    scripts/items-held.py PORT COUNT SIZE {text|random}

Writes COUNT values of SIZE bytes (text-like words, or random bytes) under keys key:0..,
with noreply, then prints curr_items, bytes and evictions from `stats`. Run it against a fresh
lzcache and a fresh memcached with the same -m to compare items held per memory.
"""
import random
import socket
import sys

port, count, size, kind = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(1)
words = [b"cache", b"value", b"memory", b"the", b"of", b"compressed", b"server", b"request",
         b"key", b'{"id":', b'"name":', b"lzcache", b"and", b"checksum", b"block", b"item", b"\n"]


def value():
    if kind == "random":
        return rng.randbytes(size)
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


sock = socket.create_connection(("127.0.0.1", port))
batch = bytearray()
for i in range(count):
    batch += b"set key:%d 0 0 %d noreply\r\n" % (i, size) + value() + b"\r\n"
    if len(batch) > 1 << 20:
        sock.sendall(batch)
        batch.clear()
sock.sendall(bytes(batch) + b"stats\r\n")
reply = b""
while not reply.endswith(b"END\r\n"):
    reply += sock.recv(65536)
stats = dict(line.split(" ")[1:3] for line in reply.decode().split("\r\n") if line.startswith("STAT"))
print(f"{kind} {size} B: curr_items {stats['curr_items']} bytes {stats['bytes']} "
      f"evictions {stats['evictions']}")
