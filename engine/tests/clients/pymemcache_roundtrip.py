"""A real client against lzcache: pymemcache stores and reads values from 0 bytes to 1 MiB.

Usage: python3 pymemcache_roundtrip.py PORT
Exits non-zero (with the reason) on the first mismatch.
"""
import random
import sys

from pymemcache.client.base import Client

port = int(sys.argv[1])
client = Client(("127.0.0.1", port), connect_timeout=5, timeout=10, default_noreply=False)
rng = random.Random(1234)
words = [b"cache", b"lzcache", b"value", b"{\"id\": 17,", b"\"name\":", b"compressed", b"\n"]


def text(n):
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words) + b" "
    return bytes(out[:n])


sizes = [0, 1, 2, 15, 16, 63, 64, 65, 100, 1000, 4096, 65536, 100000, 512 * 1024, 1024 * 1024]
for size in sizes:
    for kind, value in (("text", text(size)), ("random", rng.randbytes(size)), ("zero", bytes(size))):
        key = f"py:{kind}:{size}"
        assert client.set(key, value), f"set {key} failed"
        got = client.get(key)
        assert got == value, f"{key}: got {None if got is None else len(got)} bytes back"

# Multi-get, cas, incr, delete and flags through the client's own code paths.
client.set_many({f"m{i}": f"v{i}".encode() for i in range(50)})
got = client.get_many([f"m{i}" for i in range(50)])
assert got == {f"m{i}": f"v{i}".encode() for i in range(50)}, "get_many mismatch"
value, cas = client.gets("m1")
assert client.cas("m1", b"new", cas), "cas with the current token must store"
assert not client.cas("m1", b"newer", cas), "cas with a stale token must fail"
client.set("n", b"41")
assert client.incr("n", 1) == 42
assert client.delete("n")
assert client.get("n") is None
stats = client.stats()
assert stats[b"crc_errors"] == 0, stats[b"crc_errors"]
print(f"pymemcache: {len(sizes) * 3} values up to 1 MiB round-tripped; "
      f"{stats[b'lz_items_compressed']} items held compressed")
