#!/usr/bin/env python3
"""Plots loadbench's sweep: ops/s and p99 per connection count, items held per memory size.

    scripts/plot-loadbench.py DIR      (reads DIR/load.csv and DIR/items.csv, writes DIR/loadbench.png)
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

directory = sys.argv[1]
load = list(csv.DictReader(open(f"{directory}/load.csv")))
items = list(csv.DictReader(open(f"{directory}/items.csv")))
servers = ["lzcache", "memcached"]
colors = {"lzcache": "tab:blue", "memcached": "tab:gray"}

fig, (ops_ax, p99_ax, items_ax) = plt.subplots(1, 3, figsize=(14, 4))
for server in servers:
    rows = [r for r in load if r["server"] == server]
    conns = [int(r["connections"]) for r in rows]
    ops_ax.plot(conns, [int(r["ops_per_s"]) / 1000 for r in rows], "o-", label=server, color=colors[server])
    p99_ax.plot(conns, [int(r["p99_us"]) for r in rows], "o-", label=server, color=colors[server])
for ax, title, unit in ((ops_ax, "throughput", "k ops/s"), (p99_ax, "p99 latency (log2 bucket)", "µs")):
    ax.set_xscale("log", base=2)
    ax.set_xticks([4, 16, 64], ["4", "16", "64"])
    ax.set_xlabel("connections (get:set 9:1, 100 B–4 KiB values)")
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.legend()
sizes = sorted({int(r["memory_mb"]) for r in items})
width = 0.38
for i, server in enumerate(servers):
    held = [int(next(r["items"] for r in items if r["server"] == server and int(r["memory_mb"]) == mb)) for mb in sizes]
    items_ax.bar([j + (i - 0.5) * width for j in range(len(sizes))], held, width, label=server, color=colors[server])
items_ax.set_xticks(range(len(sizes)), [f"-m {mb}" for mb in sizes])
items_ax.set_ylabel("items held (4 KiB text-like values)")
items_ax.set_title("items held at equal memory")
items_ax.legend()
fig.suptitle("lzcache beside memcached 1.6.18, same machine, same run (scripts/loadbench.sh)")
fig.tight_layout()
fig.savefig(f"{directory}/loadbench.png", dpi=90)
