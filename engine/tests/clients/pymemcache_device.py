"""pymemcache through lzcache running on the simulated CacheAccelerator: compressible JSON
documents are stored and read back, then the server's stats must show device jobs.

Usage: python3 pymemcache_device.py PORT
"""
import json
import random
import sys

from pymemcache.client.base import Client

port = int(sys.argv[1])
client = Client(("127.0.0.1", port), connect_timeout=5, timeout=60, default_noreply=False)
rng = random.Random(99)
values = {}
for i in range(40):
    docs = [{"id": rng.randrange(10**6), "name": f"user{rng.randrange(1000)}", "tags": ["a", "b"],
             "score": rng.random()} for _ in range(rng.randrange(5, 120))]
    values[f"doc:{i}"] = json.dumps(docs).encode()
for key, value in values.items():
    assert client.set(key, value), f"set {key} failed"
for key, value in values.items():
    got = client.get(key)
    assert got == value, f"{key}: got {None if got is None else len(got)} bytes back"
stats = {k.decode(): v for k, v in client.stats().items()}
device_jobs = int(stats["lz_dev_jobs"])
assert stats["lz_accel"] in (b"sim", "sim"), stats["lz_accel"]
assert device_jobs >= 2 * len(values), f"only {device_jobs} device jobs"
assert int(stats["lz_items_compressed"]) == len(values), stats["lz_items_compressed"]
print(f"{len(values)} JSON values through the simulated device: {device_jobs} device jobs, "
      f"{int(stats['lz_dev_fallbacks'])} fallbacks")
