#!/usr/bin/env python3
"""Fills a memcached-protocol server with values and prints how many it still holds.

    scripts/items-held.py PORT COUNT SIZE {text|random|half|json|corpus}

Writes COUNT values of SIZE bytes (text-like words, random bytes, or half of each; `json`:
JSON-like user records of 100-500 bytes whatever SIZE says — the same field names and enums,
timestamps, ids and random tokens, as lzcache_driver::dict::json_records makes them; `corpus`:
every file of ../shared/corpus cut into consecutive SIZE-byte values, round after round) under
keys k:000000000.. (9 bytes while COUNT < 10^7),
with noreply, prints curr_items, bytes and evictions from `stats`, then reads every key back
and prints the hit ratio. Run it against a fresh lzcache and a fresh memcached with the same
-m to compare items held per memory.
"""
import random
import socket
import sys

port, count, size, kind = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(1)
words = [b"cache", b"value", b"memory", b"the", b"of", b"compressed", b"server", b"request",
         b"key", b'{"id":', b'"name":', b"lzcache", b"and", b"checksum", b"block", b"item", b"\n"]


def text(n):
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words) + b" "
    return bytes(out[:n])


STATES = ["active", "pending", "suspended", "deleted", "trial"]
PLANS = ["free", "pro", "team", "enterprise"]
COUNTRIES = ["DE", "FR", "US", "GB", "JP", "BR", "IN", "NL"]
LOCALES = ["en-US", "de-DE", "fr-FR", "ja-JP", "pt-BR"]
TAGS = ["beta", "newsletter", "mobile", "desktop", "vip", "churn-risk", "api"]
FIRST = ["anna", "ben", "chen", "dara", "emil", "fatima", "goro", "hana", "ivan"]
EVENTS = ["login", "logout", "purchase", "view", "search", "share"]


def timestamp():
    return "2026-%02d-%02dT%02d:%02d:%02dZ" % (1 + rng.randrange(12), 1 + rng.randrange(28),
                                              rng.randrange(24), rng.randrange(60), rng.randrange(60))


def json_record():
    name = rng.choice(FIRST)
    out = ('{"id":%d,"username":"%s%d","email":"%s.%d@example.com","state":"%s","plan":"%s",'
           '"created_at":"%s","updated_at":"%s","country":"%s","locale":"%s"'
           % (100000 + rng.randrange(9900000), name, rng.randrange(10000), name, rng.randrange(1000),
              rng.choice(STATES), rng.choice(PLANS), timestamp(), timestamp(),
              rng.choice(COUNTRIES), rng.choice(LOCALES)))
    tags = rng.randrange(4)
    if tags:
        out += ',"tags":[%s]' % ",".join('"%s"' % rng.choice(TAGS) for _ in range(tags))
    if rng.randrange(2) == 0:
        out += (',"last_event":{"type":"%s","at":"%s","session":"%016x"}'
                % (rng.choice(EVENTS), timestamp(), rng.getrandbits(64)))
    if rng.randrange(3) == 0:
        out += (',"settings":{"theme":"%s","notifications":%s,"two_factor":%s}'
                % (rng.choice(["dark", "light"]), rng.choice(["true", "false"]),
                   rng.choice(["true", "false"])))
    out += ',"score":%d.%02d,"token":"%016x"}' % (rng.randrange(1000), rng.randrange(100),
                                                  rng.getrandbits(64))
    return out.encode()


def corpus_values():
    import pathlib
    root = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
    files = sorted(p for p in root.iterdir() if p.is_file()) if root.is_dir() else []
    if not files:
        sys.exit(f"no corpus at {root}")
    while True:
        for path in files:
            data = path.read_bytes()
            for at in range(0, len(data) - size + 1, size):
                yield data[at:at + size]


corpus = corpus_values() if kind == "corpus" else None


def value():
    if kind == "corpus":
        return next(corpus)
    if kind == "json":
        return json_record()
    if kind == "random":
        return rng.randbytes(size)
    if kind == "half":
        return text(size // 2) + rng.randbytes(size - size // 2)
    return text(size)


def key(i):
    return b"k:%07d" % i


sock = socket.create_connection(("127.0.0.1", port))
batch = bytearray()
for i in range(count):
    data = value()
    batch += b"set %s 0 0 %d noreply\r\n" % (key(i), len(data)) + data + b"\r\n"
    if len(batch) > 1 << 20:
        sock.sendall(batch)
        batch.clear()
sock.sendall(bytes(batch) + b"stats\r\n")
reply = b""
while not reply.endswith(b"END\r\n"):
    reply += sock.recv(65536)
stats = dict(line.split(" ")[1:3] for line in reply.decode().split("\r\n") if line.startswith("STAT"))

hits = 0
for start in range(0, count, 100):
    keys = b" ".join(key(i) for i in range(start, min(start + 100, count)))
    sock.sendall(b"get " + keys + b"\r\n")
    reply = b""
    while not reply.endswith(b"END\r\n"):
        reply += sock.recv(1 << 20)
    # Each hit is a VALUE header followed by its data; count headers by walking the reply.
    pos = 0
    while reply.startswith(b"VALUE ", pos):
        header_end = reply.index(b"\r\n", pos)
        length = int(reply[pos:header_end].split(b" ")[3])
        pos = header_end + 2 + length + 2
        hits += 1
print(f"{kind} {size} B: curr_items {stats['curr_items']} bytes {stats['bytes']} "
      f"evictions {stats['evictions']} hit_ratio {hits / count:.4f}")
