#!/usr/bin/env bash
# lzcache beside memcached under the same load, in one run.
#
# Both servers get the same memory (-m), threads (-t) and a port on 127.0.0.1; memcaslap
# (libmemcached's load generator) drives each with the same workloads: get:set 9:1, keys 16-64
# bytes, values 100-4096 bytes (then 100 bytes), 16 connections, 2 threads. Prints ops/s, mean
# latency, the p99 latency bucket (memcaslap's log2 histogram, so p99 is a power-of-two upper
# bound) and the server's own CPU per operation, user and kernel (from /proc/PID/stat, utime
# and stime, across the run), with the lzcache/memcached ratios. The load generator shares the
# machine's cores with the server, so ops/s is bound by the kernel's loopback TCP; CPU per
# operation is the figure that compares the servers' own code. Then both are filled with compressible values past their memory
# limit and re-read: items held and hit ratio. Finally a sweep over connection counts and
# memory sizes, written to target/loadbench/{load,items}.csv and plotted to
# target/loadbench/loadbench.png (python3-matplotlib).
#
#   scripts/loadbench.sh [SECONDS]        (default 20; ROUNDS=3 runs of each load per server;
#                                         LZ_ARGS="--dict off" passes flags to lzcache;
#                                         LZ_BIN=path/to/lzcache runs that build instead of
#                                         target/release/lzcache, e.g. the profile-guided
#                                         target/pgo/lzcache of make release-pgo;
#                                         LZ_BEFORE=path/to/lzcache adds that build to the
#                                         load rounds, to compare two builds in one run)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
memory_mb=64
threads=2
lz_port=22311
mc_port=22312
before_port=22313
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

cargo build --release -q -p lzcache
lz_bin=${LZ_BIN:-./target/release/lzcache}
cat > "$work/workload" <<'CFG'
key
16 64 1
value
100 4096 1
cmd
0 0.1
1 0.9
CFG

start_servers() {
  local mb=${1:-$memory_mb}
  "$lz_bin" -p $lz_port -m "$mb" -t $threads ${LZ_ARGS:-} 2>/dev/null & pids+=($!)
  memcached -p $mc_port -m "$mb" -t $threads -U 0 -u "$(id -un)" & pids+=($!)
  local ports="$lz_port $mc_port"
  if [ -n "${LZ_BEFORE:-}" ]; then
    "$LZ_BEFORE" -p $before_port -m "$mb" -t $threads ${LZ_ARGS:-} 2>/dev/null & pids+=($!)
    ports="$ports $before_port"
  fi
  for port in $ports; do
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  done
}
stop_servers() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }

# Prints "ops/s avg_us p99_us user_us_per_op sys_us_per_op" from memcaslap's output and the
# server's CPU times: load PORT [CONNECTIONS [SECONDS [WORKLOAD [PID]]]].
load() {
  local conns=${2:-16} secs=${3:-$seconds} workload=${4:-$work/workload} pid=${5:-}
  local u0=0 s0=0 u1=0 s1=0
  [ -n "$pid" ] && read -r u0 s0 < <(cpu_ticks "$pid")
  memcaslap -s 127.0.0.1:$1 -t "${secs}s" -c "$conns" -T 2 -F "$workload" -S "${secs}s" > "$work/out" 2>&1
  [ -n "$pid" ] && read -r u1 s1 < <(cpu_ticks "$pid")
  awk -v du=$((u1 - u0)) -v ds=$((s1 - s0)) -v tck="$(getconf CLK_TCK)" '
    /^Global/ && section == "Total" { tps = $4; avg = $10 }
    /^Total Statistics$/ { section = "Total" }
    /^Total Statistics \(/ { hist = 1; next }
    hist && /^ +[0-9]+:/ {
      base = $1 + 0
      for (i = 2; i <= NF; i++) { bucket[base + i - 2] = $i; total += $i }
    }
    /^Run time:/ { ops = $5 }
    END {
      seen = 0
      for (b = 0; b < 64; b++) { seen += bucket[b]; if (seen >= 0.99 * total) { p99 = 2 ^ (b + 1); break } }
      ops = ops > 0 ? ops : 1
      printf "%d %d %d %.3f %.3f\n", tps, avg, p99, du * 1e6 / tck / ops, ds * 1e6 / tck / ops
    }' "$work/out"
}

# User and kernel CPU ticks of a process so far (fields 14 and 15 of /proc/PID/stat; the
# command name, field 2, has no spaces for these servers).
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }

cat > "$work/small" <<'CFG'
key
16 64 1
value
100 100 1
cmd
0 0.1
1 0.9
CFG
# Each workload runs ROUNDS times on each server, alternating, and the medians are reported:
# the machines this runs on are shared and noisy, and alternation spreads the noise evenly.
rounds=${ROUNDS:-3}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# lzcache's ops/s and CPU per op over another server's (lzcache's medians in lz_tps, lz_usr,
# lz_sys): ratios NAME OPS USER_US KERNEL_US.
ratios() {
  awk -v n="$1" -v a="$lz_tps" -v b="$2" -v u="$lz_usr" -v v="$3" -v k="$lz_sys" -v l="$4" \
    'BEGIN { printf "lzcache/%s: ops/s %.2f, user CPU per op %.2f, kernel CPU per op %.2f\n", n, a / b, u / v, k / l }'
}
for workload in workload small; do
  case $workload in
    workload) what="values 100-4096 B" ;;
    small) what="values 100 B" ;;
  esac
  echo "== load: ${seconds}s x $rounds rounds each (medians), get:set 9:1, keys 16-64 B, $what, 16 connections"
  start_servers
  : > "$work/lz.rounds"; : > "$work/mc.rounds"; : > "$work/before.rounds"
  for _ in $(seq "$rounds"); do
    load $lz_port 16 "$seconds" "$work/$workload" "${pids[0]}" >> "$work/lz.rounds"
    load $mc_port 16 "$seconds" "$work/$workload" "${pids[1]}" >> "$work/mc.rounds"
    if [ -n "${LZ_BEFORE:-}" ]; then
      load $before_port 16 "$seconds" "$work/$workload" "${pids[2]}" >> "$work/before.rounds"
    fi
  done
  stop_servers
  medians() { for col in 1 2 3 4 5; do awk -v c=$col '{ print $c }' "$1" | median; done | xargs; }
  read -r lz_tps lz_avg lz_p99 lz_usr lz_sys < <(medians "$work/lz.rounds")
  read -r mc_tps mc_avg mc_p99 mc_usr mc_sys < <(medians "$work/mc.rounds")
  printf '%-10s %10s %8s %10s %14s %14s\n' server ops/s avg_us p99_us user_us/op kernel_us/op
  printf '%-10s %10s %8s %10s %14s %14s\n' lzcache "$lz_tps" "$lz_avg" "<=$lz_p99" "$lz_usr" "$lz_sys"
  printf '%-10s %10s %8s %10s %14s %14s\n' memcached "$mc_tps" "$mc_avg" "<=$mc_p99" "$mc_usr" "$mc_sys"
  if [ -n "${LZ_BEFORE:-}" ]; then
    read -r bf_tps bf_avg bf_p99 bf_usr bf_sys < <(medians "$work/before.rounds")
    printf '%-10s %10s %8s %10s %14s %14s\n' before "$bf_tps" "$bf_avg" "<=$bf_p99" "$bf_usr" "$bf_sys"
    ratios before "$bf_tps" "$bf_usr" "$bf_sys"
  fi
  ratios memcached "$mc_tps" "$mc_usr" "$mc_sys"
  # The spread behind the medians: each round's ratios (a round = lzcache's run, then
  # memcached's), and their medians — runs a few seconds apart share the machine's state, so
  # a round's ratio is steadier than either server's figure.
  paste -d' ' "$work/lz.rounds" "$work/mc.rounds" | awk '
    function median(a, n,   i, j, t) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { o[NR] = $1 / $6; u[NR] = $4 / $9; k[NR] = $5 / $10
      ops = ops sprintf(" %.2f", o[NR]); usr = usr sprintf(" %.2f", u[NR]); sys = sys sprintf(" %.2f", k[NR]) }
    END { print "rounds: ops/s" ops "; user" usr "; kernel" sys
          printf "rounds, median ratio: ops/s %.2f, user CPU per op %.2f, kernel CPU per op %.2f\n", median(o, NR), median(u, NR), median(k, NR) }'
done

echo "== items held: 4 KiB text-like values, 4x the memory limit written, then re-read"
start_servers
count=$(( 4 * memory_mb * 1024 * 1024 / 4096 ))
lz=$(python3 scripts/items-held.py $lz_port $count 4096 text)
mc=$(python3 scripts/items-held.py $mc_port $count 4096 text)
stop_servers
echo "lzcache:   $lz"
echo "memcached: $mc"
awk -v a="$(echo "$lz" | awk '{print $5}')" -v b="$(echo "$mc" | awk '{print $5}')" \
  'BEGIN { printf "lzcache/memcached items held: %.2f\n", a / b }'

out=target/loadbench
mkdir -p "$out"
echo "== sweep: connections (ops/s, p99) and memory sizes (items held) -> $out"
echo "server,connections,ops_per_s,avg_us,p99_us" > "$out/load.csv"
start_servers
for conns in 4 16 64; do
  for server in lzcache:$lz_port memcached:$mc_port; do
    read -r tps avg p99 _ _ < <(load "${server#*:}" "$conns" $(( (seconds + 1) / 2 )))
    echo "${server%%:*},$conns,$tps,$avg,$p99" >> "$out/load.csv"
  done
done
stop_servers
echo "server,memory_mb,items,hit_ratio" > "$out/items.csv"
for mb in 16 64; do
  start_servers "$mb"
  count=$(( 4 * mb * 1024 * 1024 / 4096 ))
  for server in lzcache:$lz_port memcached:$mc_port; do
    line=$(python3 scripts/items-held.py "${server#*:}" $count 4096 text)
    echo "${server%%:*},$mb,$(echo "$line" | awk '{print $5}'),$(echo "$line" | awk '{print $11}')" >> "$out/items.csv"
  done
  stop_servers
done
cat "$out/load.csv" "$out/items.csv"
/usr/bin/python3 scripts/plot-loadbench.py "$out" && echo "plot: $out/loadbench.png"
