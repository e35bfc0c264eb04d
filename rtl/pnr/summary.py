#!/usr/bin/env python3
"""Summarise nextpnr-ecp5 reports: resources, Fmax against a floor, and the critical path.

Usage: summary.py FLOORS OUT_PREFIX REPORT...

Each REPORT is target/pnr/<module>-<part>.report.json. FLOORS lists `module part MHz`: the
Fmax a module must reach on a part; the script exits non-zero when any report falls below its
floor (a floor is a gate against regressions; the figure itself is what gets reported).
Writes OUT_PREFIX.json (every figure), OUT_PREFIX.tsv (the same, for hwreport) and
OUT_PREFIX.md (the table printed).
"""

import json
import os
import re
import sys

PARTS = {
    "85f-6": "LFE5U-85F-6",
    "um5g-85f-8": "LFE5UM5G-85F-8",
}


def read_floors(path):
    floors = {}
    with open(path) as lines:
        for line in lines:
            line = line.split("#", 1)[0].split()
            if line:
                module, part, mhz = line
                floors[(module, part)] = float(mhz)
    return floors


def critical_sources(report, limit=4):
    """Source lines of the slowest path, in path order, without repeats."""
    paths = report.get("critical_paths", [])
    if not paths:
        return []
    # One path per clock pair; the harness has a single clock.
    seen = []
    for step in paths[0].get("path", []):
        # Only the project's own lines (not yosys' cell library).
        for source in (s for s in step.get("sources", []) if s.startswith("rtl/")):
            # rtl/x.v:282.21-282.27 -> x.v:282
            name = os.path.basename(source.split(":")[0])
            line = source.split(":")[1].split(".")[0] if ":" in source else "?"
            short = f"{name}:{line}"
            if short not in seen:
                seen.append(short)
    if not seen:
        # Paths through inferred cells carry only the cell library's lines: name the
        # hierarchy of the path's first and last cells instead.
        steps = paths[0].get("path", [])
        if steps:
            for cell in (steps[0]["from"]["cell"], steps[-1]["to"]["cell"]):
                name = re.split(r"_(?:TRELLIS|LUT4|DO[AB]\d|DI|PFUMX|CCU2C|L6MUX21)", cell)[0]
                name = name.removeprefix("dut.")
                if name not in seen:
                    seen.append(name)
    if len(seen) > limit:
        seen = seen[:2] + ["…"] + seen[-(limit - 2):]
    return seen


def summarise(report_path):
    base = os.path.basename(report_path)[: -len(".report.json")]
    module, part = None, None
    for key in PARTS:
        if base.endswith("-" + key):
            module, part = base[: -len(key) - 1], key
    if module is None:
        raise SystemExit(f"summary.py: cannot tell module and part from {report_path}")
    with open(report_path) as f:
        report = json.load(f)
    fmax = min(clock["achieved"] for clock in report["fmax"].values())
    used = {name: cell["used"] for name, cell in report["utilization"].items()}
    return {
        "module": module,
        "part": part,
        "device": PARTS[part],
        "fmax_mhz": round(fmax, 2),
        "lut4": used.get("TRELLIS_COMB", 0),
        "ff": used.get("TRELLIS_FF", 0),
        "dp16kd": used.get("DP16KD", 0),
        "mult18": used.get("MULT18X18D", 0),
        "critical_path": critical_sources(report),
    }


def main():
    floors_path, out_prefix, *reports = sys.argv[1:]
    floors = read_floors(floors_path)
    rows = [summarise(path) for path in sorted(reports)]
    failed = []
    lines = [
        "| module | part | LUT4 | FF | DP16KD | MULT18 | Fmax MHz | floor | critical path |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        floor = floors.get((row["module"], row["part"]))
        row["floor_mhz"] = floor
        if floor is None:
            failed.append(f"{row['module']} on {row['device']}: no floor in {floors_path}")
        elif row["fmax_mhz"] < floor:
            failed.append(f"{row['module']} on {row['device']}: {row['fmax_mhz']} MHz < floor {floor} MHz")
        lines.append(
            f"| {row['module']} | {row['device']} | {row['lut4']} | {row['ff']} | {row['dp16kd']} "
            f"| {row['mult18']} | {row['fmax_mhz']:.1f} | {floor if floor is not None else '-'} "
            f"| {' → '.join(row['critical_path'])} |"
        )
    table = "\n".join(lines)
    with open(out_prefix + ".md", "w") as f:
        f.write(table + "\n")
    with open(out_prefix + ".json", "w") as f:
        json.dump(rows, f, indent=2)
    # The same figures as tab-separated lines, for readers without a JSON parser (hwreport).
    with open(out_prefix + ".tsv", "w") as f:
        f.write("module\tpart\tdevice\tfmax_mhz\tlut4\tff\tdp16kd\tmult18\n")
        for row in rows:
            f.write("\t".join(str(row[k]) for k in
                               ("module", "part", "device", "fmax_mhz", "lut4", "ff", "dp16kd", "mult18")) + "\n")
    print(table)
    for failure in failed:
        print(f"pnr: FAIL {failure}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
