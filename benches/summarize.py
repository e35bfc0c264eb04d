#!/usr/bin/env python3
"""Prints lzcache beside its peer for every criterion group of the codec benchmark.

    benches/summarize.py [TARGET_DIR/criterion]

For each group (operation/size) it reads criterion's mean estimates and prints both speeds in
GB/s and their ratio (lzcache speed / peer speed: above 1 means lzcache is faster).
"""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
rows = []
for group in sorted(root.iterdir()):
    if not group.is_dir() or "_" not in group.name:
        continue
    op, _, size = group.name.rpartition("_")
    if not size.isdigit():
        continue
    means = {}
    for function in group.iterdir():
        estimates = function / size / "new" / "estimates.json"
        if estimates.exists():
            means[function.name] = json.loads(estimates.read_text())["mean"]["point_estimate"]
    peers = [name for name in means if not name.startswith("lzcache")]
    if not peers:
        continue
    peer = peers[0]
    # Each lzcache variant beside the peer: "lzcache" (as the server calls the codec) and,
    # where the group has them, "lzcache-job" and "lzcache-block" as "op (job)", "op (block)".
    for name in sorted(n for n in means if n.startswith("lzcache")):
        label = op if name == "lzcache" else f"{op} ({name.removeprefix('lzcache-')})"
        rows.append((label, int(size), means[name], peer, means[peer]))

print(f"{'operation':<24}{'size':>9}  {'lzcache GB/s':>12}  {'peer':<15}{'peer GB/s':>10}  {'ratio':>6}")
for op, size, ours, peer, theirs in sorted(rows):
    print(f"{op:<24}{size:>9}  {size / ours:>12.2f}  {peer:<15}{size / theirs:>10.2f}  {theirs / ours:>6.2f}")

# The store benchmark (benches/store.rs): nanoseconds per get, lzcache's store beside std's
# HashMap over the same items (ratio above 1: the store's get is faster).
for group in sorted(root.iterdir()):
    if not group.is_dir() or not group.name.startswith("get"):
        continue
    means = {}
    for function in group.iterdir():
        estimates = function / "new" / "estimates.json"
        if estimates.exists():
            means[function.name] = json.loads(estimates.read_text())["mean"]["point_estimate"]
    ours = [name for name in means if name.startswith("lzcache")]
    peers = [name for name in means if not name.startswith("lzcache")]
    if ours and peers:
        a, b = means[ours[0]], means[peers[0]]
        print(f"\n{group.name}: {ours[0]} {a:.0f} ns, {peers[0]} {b:.0f} ns, ratio {b / a:.2f}")
