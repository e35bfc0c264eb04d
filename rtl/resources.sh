#!/usr/bin/env bash
# Prints one resource line per synthesized top from yosys output in build/: LUTs, flip-flops,
# block RAM (in 36 Kb blocks), DSP slices, and the longest combinational path in cells.
set -euo pipefail
build=$1; shift
# The last `stat` section is the whole design (the top with its submodules).
count() { awk -v pat="$2" '/Number of cells/ {n = 0; delete c} $1 ~ pat {c[$1] = $2} END {for (k in c) n += c[k]; print n + 0}' "$1"; }
printf '%-24s %8s %8s %6s %6s %6s\n' module LUT FF BRAM36 DSP depth
for top in "$@"; do
  stat="$build/$top.stat"
  luts=$(count "$stat" '^LUT[1-6]$')
  ffs=$(count "$stat" '^FD[A-Z]+$')
  b36=$(count "$stat" '^RAMB36')
  b18=$(count "$stat" '^RAMB18')
  dsp=$(count "$stat" '^DSP48')
  depth=$(grep -oE 'length=[0-9]+' "$build/$top.ltp" | cut -d= -f2 | sort -n | tail -1 || true)
  printf '%-24s %8s %8s %6s %6s %6s\n' "$top" "$luts" "$ffs" "$(awk -v a="$b36" -v b="$b18" 'BEGIN {print a + b / 2}')" "$dsp" "${depth:-?}"
done
