#!/usr/bin/env python3
"""Fmax of each module and part over several placement seeds: lowest, median, highest.

Usage: seeds.py OUT_PREFIX REPORT...

Each REPORT is target/pnr/seeds/<module>-<part>-<seed>.report.json. Placement alone moves
Fmax by up to 7 % from seed to seed on these designs, so a timing change measured at one
seed can look like a gain or a loss that is only the placer's luck; `make pnr-seeds` places
every engine at several seeds, and a change is worth keeping when it moves the distribution.
`make pnr` and its floors stay at the one fixed seed. Writes OUT_PREFIX.md (the table
printed) and OUT_PREFIX.json.
"""

import json
import os
import statistics
import sys

from summary import PARTS


def parse_name(path):
    """target/pnr/seeds/lz4_compress-um5g-85f-8-3.report.json -> (module, part, seed)."""
    stem = os.path.basename(path).removesuffix(".report.json")
    module, rest = stem.split("-", 1)
    part, seed = rest.rsplit("-", 1)
    return module, part, int(seed)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out_prefix, reports = sys.argv[1], sys.argv[2:]
    runs = {}
    for path in reports:
        module, part, seed = parse_name(path)
        with open(path) as report_file:
            report = json.load(report_file)
        # The harness has a single clock.
        achieved = round(next(iter(report["fmax"].values()))["achieved"], 2)
        runs.setdefault((module, part), []).append((seed, achieved))

    rows = []
    lines = [
        "| module | part | seeds | lowest | median | highest | per seed |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for (module, part), seeds in sorted(runs.items()):
        seeds.sort()
        fmax = [mhz for _, mhz in seeds]
        row = {
            "module": module,
            "part": PARTS.get(part, part),
            "seeds": {str(seed): mhz for seed, mhz in seeds},
            "lowest": min(fmax),
            "median": round(statistics.median(fmax), 2),
            "highest": max(fmax),
        }
        rows.append(row)
        per_seed = ", ".join(f"{seed}: {mhz:.1f}" for seed, mhz in seeds)
        lines.append(
            f"| `{module}` | {row['part']} | {len(fmax)} | {row['lowest']:.1f} | "
            f"{row['median']:.1f} | {row['highest']:.1f} | {per_seed} |"
        )
    table = "\n".join(lines) + "\n"
    with open(out_prefix + ".md", "w") as md:
        md.write(table)
    with open(out_prefix + ".json", "w") as js:
        json.dump(rows, js, indent=2)
    print(table, end="")


if __name__ == "__main__":
    main()
