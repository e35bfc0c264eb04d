#!/usr/bin/env bash
# lzcache's store beside memcached's at the same memory, in one run.
#
# For each workload a fresh lzcache and a fresh memcached (1.6.18, same -m, -t 2) are filled
# with four times their memory in values (scripts/items-held.py; `300 json` means JSON-like
# records of 100-500 bytes) and asked how many they hold,
# with the ratio and each server's resident memory after the fill. Then both replay the same
# Zipf(0.99) cache-aside trace over 1 M keys of mixed sizes with a cache of a tenth of the key
# space's bytes (scripts/hit-ratio.py) and report their hit ratios.
#
#   scripts/store-efficiency.sh [MEMORY_MB...]     (default: 16 64; HIT_ONLY=1 skips to the
#                                                  hit ratio; LZ_ARGS="--dict off" passes
#                                                  flags to lzcache)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-16 64}")
read -r -a sizes <<< "${sizes[*]}"
lz_port=22411
mc_port=22412
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

cargo build --release -q -p lzcache

start() { # start MEMORY_MB: fresh servers
  ./target/release/lzcache -p $lz_port -m "$1" -t 2 ${LZ_ARGS:-} 2>/dev/null & pids+=($!)
  memcached -p $mc_port -m "$1" -t 2 -U 0 -u "$(id -un)" & pids+=($!)
  for port in $lz_port $mc_port; do
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  done
}
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
field() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p"; }

printf '%-8s %-22s %12s %12s %7s %10s %10s\n' "-m MiB" workload "lz items" "mc items" ratio "lz RSS" "mc RSS"
[ -n "${HIT_ONLY:-}" ] && sizes=()
for mb in "${sizes[@]}"; do
  for workload in "100 random" "300 json" "1024 half" "4096 text"; do
    read -r size kind <<< "$workload"
    count=$(( 4 * mb * 1048576 / size ))
    start "$mb"
    lz=$(python3 scripts/items-held.py $lz_port "$count" "$size" "$kind")
    mc=$(python3 scripts/items-held.py $mc_port "$count" "$size" "$kind")
    lz_rss=$(rss_mib "${pids[0]}"); mc_rss=$(rss_mib "${pids[1]}")
    stop
    lz_items=$(echo "$lz" | field curr_items); mc_items=$(echo "$mc" | field curr_items)
    printf '%-8s %-22s %12s %12s %7.2f %10s %10s\n' "$mb" "$size B $kind" "$lz_items" "$mc_items" \
      "$(awk -v a="$lz_items" -v b="$mc_items" 'BEGIN { print a / b }')" "$lz_rss" "$mc_rss"
  done
done

keys=${HIT_KEYS:-1000000}
requests=${HIT_REQUESTS:-2000000}
space=$(python3 scripts/hit-ratio.py --key-space "$keys")
mb=$(( space / 10 / 1048576 ))
start "$mb"
lz=$(python3 scripts/hit-ratio.py $lz_port "$keys" "$requests")
mc=$(python3 scripts/hit-ratio.py $mc_port "$keys" "$requests")
stop
echo "Zipf(0.99) cache-aside, $keys keys of 50 B-4 KiB ($space bytes), $requests requests, -m $mb:"
echo "  lzcache   $lz"
echo "  memcached $mc"
