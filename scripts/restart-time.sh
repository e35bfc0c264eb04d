#!/usr/bin/env bash
# Warm restart of a full lzcache: fills `-m MB` (default 1024) with values of SIZE bytes
# (default 100) in a memory file on /dev/shm, stops it cleanly (SIGTERM), starts it again on
# the same file and reports how long until it answers, how long until every restored item
# has been checked (in the background), how many came back, and whether a sample of them
# reads back exactly.
#
#   scripts/restart-time.sh [MB [SIZE]]
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-1024}
size=${2:-100}
port=22711
file=/dev/shm/lzcache-restart-$$
trap 'kill "$pid" 2>/dev/null && wait "$pid"; rm -f "$file" "$file.meta"' EXIT

cargo build --release -q -p lzcache
./target/release/lzcache -p $port -m "$mb" -t 2 -e "$file" 2>/dev/null & pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
count=$(( mb * 1048576 / size ))
python3 - "$port" "$count" "$size" <<'PY'
import random, socket, sys
port, count, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(3)
pool = rng.randbytes(size * 64)
s = socket.create_connection(("127.0.0.1", port))
batch = bytearray()
for i in range(count):
    at = (i * 7919) % (size * 63)
    batch += b"set k:%08d 0 0 %d noreply\r\n" % (i, size) + pool[at:at + size] + b"\r\n"
    if len(batch) > 1 << 20:
        s.sendall(batch)
        batch.clear()
s.sendall(bytes(batch) + b"mn\r\n")
while not s.recv(16).endswith(b"MN\r\n"):
    pass
PY
before=$(printf 'stats\r\nquit\r\n' | python3 -c "
import socket, sys
s = socket.create_connection(('127.0.0.1', $port)); s.sendall(sys.stdin.buffer.read())
out = b''
while not out.endswith(b'END\r\n'): out += s.recv(65536)
print([l.split()[2] for l in out.decode().splitlines() if l.startswith('STAT curr_items')][0])")
kill -TERM "$pid"; wait "$pid" || true
start=$(date +%s.%N)
./target/release/lzcache -p $port -m "$mb" -t 2 -e "$file" 2>/dev/null & pid=$!
python3 - "$port" "$start" "$before" "$size" "$count" <<'PY'
import random, socket, sys, time
port, start, before, size = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
count = int(sys.argv[5])
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"mn\r\n")
        if s.recv(16) == b"MN\r\n":
            break
    except OSError:
        time.sleep(0.005)
ready = time.time() - start


def stats():
    s.sendall(b"stats slabs\r\nstats\r\n")
    out = b""
    while out.count(b"END\r\n") < 2:
        out += s.recv(65536)
    return dict(l.split()[1:3] for l in out.decode().splitlines() if l.startswith("STAT"))


while stats()["lz_restore_checking"] == "1":
    pass
checked_after = time.time() - start
stats = stats()
pool = random.Random(3).randbytes(size * 64)
reader = s.makefile("rb")
checked = 0
for i in random.Random(4).sample(range(count), 2000):
    s.sendall(b"get k:%08d\r\n" % i)
    line = reader.readline()
    if line.startswith(b"VALUE"):
        data = reader.read(size + 2)[:size]
        at = (i * 7919) % (size * 63)
        assert data == pool[at:at + size], f"k:{i:08d} came back different"
        assert reader.readline() == b"END\r\n"
        checked += 1
    else:
        assert line == b"END\r\n", line
print(f"{int(stats['limit_maxbytes']) >> 20} MiB, {size} B values: {before} items before, "
      f"{stats['lz_restored_items']} restored, {stats['lz_restore_dropped']} dropped, "
      f"serving {ready:.2f} s after the start, all checked after {checked_after:.2f} s; "
      f"{checked} of 2000 sampled keys present, all exact")
PY
