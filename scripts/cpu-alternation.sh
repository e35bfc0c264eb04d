#!/usr/bin/env bash
# Server CPU per operation of several lzcache builds and memcached, in many short alternating
# rounds: the way to tell a few percent apart on a noisy machine.
#
# Every server is started once (64 MiB, 2 threads, a port on 127.0.0.1); each round runs
# memcaslap (get:set 9:1, keys 16-64 bytes, 16 connections, 2 threads) for SECONDS against
# each server in turn and takes the server's user and kernel CPU over the run from
# /proc/PID/stat. A round's servers run seconds apart and share the machine's state, so the
# ratio of two servers within a round is steadier than either's figure; the summary gives,
# for each pair that matters, the median of the rounds' ratios, in how many rounds the first
# was lower, and their range.
#
#   scripts/cpu-alternation.sh SECONDS ROUNDS mixed|small LZCACHE_BIN...
#
# mixed: values of 100-4096 bytes (loadbench's first load); small: 100-byte values. Example,
# two builds beside memcached, 21 rounds of 4 s of 100-byte values (about 5 minutes):
#   scripts/cpu-alternation.sh 4 21 small target/lzcache-before target/release/lzcache
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,17p' "$0"
  exit 2
fi
seconds=$1 rounds=$2 load=$3
shift 3
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

case $load in
  mixed) values="100 4096 1" ;;
  small) values="100 100 1" ;;
  *) echo "load: mixed or small, not $load" >&2; exit 2 ;;
esac
printf 'key\n16 64 1\nvalue\n%s\ncmd\n0 0.1\n1 0.9\n' "$values" > "$work/workload"

# name:port:pid for each server, the lzcache builds first, memcached last.
servers=()
port=22520
for bin in "$@"; do
  "$bin" -p $port -m 64 -t 2 2>/dev/null & pids+=($!)
  servers+=("$(basename "$bin")#${#servers[@]}:$port:$!")
  port=$((port + 1))
done
memcached -p $port -m 64 -t 2 -U 0 -u "$(id -un)" & pids+=($!)
servers+=("memcached:$port:$!")
for server in "${servers[@]}"; do
  IFS=: read -r _ port _ <<< "$server"
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done

ticks=$(getconf CLK_TCK)
echo "round server ops user_us/op kernel_us/op"
for round in $(seq "$rounds"); do
  for server in "${servers[@]}"; do
    IFS=: read -r name port pid <<< "$server"
    read -r u0 s0 < <(awk '{ print $14, $15 }' "/proc/$pid/stat")
    ops=$(memcaslap -s 127.0.0.1:$port -t "${seconds}s" -c 16 -T 2 -F "$work/workload" \
      -S "${seconds}s" 2>&1 | awk '/^Run time:/ { print $5 }')
    read -r u1 s1 < <(awk '{ print $14, $15 }' "/proc/$pid/stat")
    awk -v r="$round" -v n="$name" -v ops="${ops:-0}" -v du=$((u1 - u0)) -v ds=$((s1 - s0)) \
      -v t="$ticks" 'BEGIN { if (ops == 0) { print "no operations from " n > "/dev/stderr"; exit 1 }
        printf "%d %s %d %.3f %.3f\n", r, n, ops, du * 1e6 / t / ops, ds * 1e6 / t / ops }'
  done
done | tee "$work/rounds"

# Ratios of server A over server B per round: user CPU, kernel CPU and ops/s.
compare() {
  awk -v a="$1" -v b="$2" '
    function median(v, n,   i, j, t) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
      return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    $2 == a { ua[$1] = $4; ka[$1] = $5; oa[$1] = $3 }
    $2 == b { ub[$1] = $4; kb[$1] = $5; ob[$1] = $3 }
    END {
      for (r in ua) if (r in ub) {
        n++; u[n] = ua[r] / ub[r]; k[n] = ka[r] / kb[r]; o[n] = oa[r] / ob[r]
        if (u[n] < 1) lower++
        if (n == 1 || u[n] < lo) lo = u[n]
        if (n == 1 || u[n] > hi) hi = u[n]
      }
      printf "%s / %s: user %.3f (lower in %d of %d, %.2f-%.2f), kernel %.3f, ops/s %.3f\n",
        a, b, median(u, n), lower, n, lo, hi, median(k, n), median(o, n)
    }' "$work/rounds"
}
echo "medians of the rounds' ratios:"
names=()
for server in "${servers[@]}"; do names+=("${server%%:*}"); done
last=$((${#names[@]} - 1))
for i in $(seq 0 $((last - 1))); do
  compare "${names[$i]}" memcached
  if [ "$i" -gt 0 ]; then compare "${names[$i]}" "${names[0]}"; fi
done
