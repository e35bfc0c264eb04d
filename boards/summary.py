#!/usr/bin/env python3
"""Summarise a board bitstream's nextpnr-ecp5 report: Fmax per clock against its constraint,
and resources.

Usage: summary.py BOARD REPORT OUT_MD

Exits non-zero when any clock misses its constraint (a bitstream that does not meet timing
is not one to load). Writes OUT_MD (the table printed).
"""

import json
import sys

PARTS = {
    "versa": "LFE5UM5G-45F-8 (CABGA381)",
    "ecpix5": "LFE5UM5G-85F-8 (CABGA554)",
}
# The resources worth a line, in nextpnr's names.
RESOURCES = ["TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D", "TRELLIS_IO", "EHXPLLL"]


def clock_name(net):
    # nextpnr names a clock by its global net: $glbnet$clk100$TRELLIS_IO_IN -> clk100
    parts = [p for p in net.split("$") if p and p != "glbnet"]
    return parts[0] if parts else net


def main():
    board, report_path, out_path = sys.argv[1:4]
    with open(report_path) as f:
        report = json.load(f)
    lines = [
        f"Board `{board}`, {PARTS.get(board, '?')}, nextpnr-ecp5 seed 1:",
        "",
        "| clock | constraint MHz | Fmax MHz | met |",
        "|---|---:|---:|---|",
    ]
    missed = []
    for net, clock in sorted(report["fmax"].items()):
        met = clock["achieved"] >= clock["constraint"]
        if not met:
            missed.append(clock_name(net))
        lines.append(
            f"| {clock_name(net)} | {clock['constraint']:.1f} | {clock['achieved']:.1f} | "
            f"{'yes' if met else '**no**'} |"
        )
    lines += ["", "| resource | used | available | share |", "|---|---:|---:|---:|"]
    for name in RESOURCES:
        cell = report["utilization"].get(name)
        if cell and cell["used"]:
            share = 100.0 * cell["used"] / cell["available"]
            lines.append(f"| {name} | {cell['used']} | {cell['available']} | {share:.0f} % |")
    text = "\n".join(lines) + "\n"
    with open(out_path, "w") as out:
        out.write(text)
    print(text, end="")
    if missed:
        print(f"bitstream: timing missed on {', '.join(missed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
