#!/usr/bin/env bash
# A profile-guided release build of the server: target/pgo/lzcache.
#
# The server's hot path is branchy code spread over many small functions (the event loop, the
# parser, the index, the record parse, the reply); LLVM lays it out and inlines it far better
# when it knows which branches are taken. Three steps:
#   1. an instrumented build (-Cprofile-generate) in its own target directory;
#   2. a training run: that server under memcaslap's get/set load (100-byte values, then
#      100-4096 bytes) and a pass over the other commands (meta, arithmetic, CAS, touch,
#      append, delete), so that no command's code is left without counts and laid out as
#      cold; the profile is written when the server exits;
#   3. the release build again with the merged profile (-Cprofile-use).
# Needs llvm-profdata matching rustc's LLVM (the rustup component llvm-tools, added when
# missing) and memcaslap (libmemcached-tools). About 5 minutes on 2 cores.
#
#   scripts/pgo-build.sh            (TRAIN_SECS=8 per load)
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/pgo
train_secs=${TRAIN_SECS:-8}
port=22399
mkdir -p "$out"
out_abs=$(cd "$out" && pwd)

host=$(rustc -vV | awk '/^host:/ { print $2 }')
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
  if ! command -v rustup > /dev/null; then
    echo "pgo-build: needs llvm-profdata at $profdata (rustup's llvm-tools component)" >&2
    exit 1
  fi
  rustup component add llvm-tools
fi

# 1. Instrumented build. Build scripts are instrumented too and write profiles while the build
# runs: the directory is emptied before training so that only the server's profile is merged.
raw="$out_abs/raw"
RUSTFLAGS="-Cprofile-generate=$raw" CARGO_TARGET_DIR="$out/build-generate" \
  cargo build --release -q -p lzcache
rm -rf "$raw"

# 2. Training.
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null || true; }
trap cleanup EXIT
"$out/build-generate/release/lzcache" -p $port -m 64 -t 2 2>/dev/null &
server=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
for values in "100 100" "100 4096"; do
  printf 'key\n16 64 1\nvalue\n%s 1\ncmd\n0 0.1\n1 0.9\n' "$values" > "$out/workload"
  memcaslap -s 127.0.0.1:$port -t "${train_secs}s" -c 16 -T 2 -F "$out/workload" > /dev/null
done
python3 - "$port" <<'PY'
import socket, sys

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
reader = sock.makefile("rb")

def exchange(request: bytes, replies: int) -> None:
    """Sends a pipeline and reads as many reply lines (values included) as it expects."""
    sock.sendall(request)
    for _ in range(replies):
        line = reader.readline()
        if not line:
            raise SystemExit("training: the server closed the connection")
        parts = line.split()
        if parts and parts[0] in (b"ERROR", b"CLIENT_ERROR", b"SERVER_ERROR"):
            raise SystemExit(f"training: {request!r} got {line!r}")
        if parts and parts[0] == b"VALUE":
            reader.read(int(parts[3]) + 2)
        if parts and parts[0] == b"VA":
            reader.read(int(parts[1]) + 2)

for i in range(20000):
    k = b"t%d" % (i % 500)
    v = b"x" * (i % 300 + 1)
    exchange(b"ms %s %d T0 F5\r\n%s\r\n" % (k, len(v), v), 1)
    exchange(b"mg %s v f t c k s\r\n" % k, 1)
    exchange(b"mg %s%d v q\r\nmn\r\n" % (k, i), 1)
    exchange(b"ma n%d N0 J13 D2\r\n" % (i % 50), 1)
    exchange(b"md %s q\r\nmn\r\n" % k, 1)
    exchange(b"set c%d 0 0 1\r\n7\r\nincr c%d 3\r\ndecr c%d 1\r\n" % (i, i, i), 3)
    exchange(b"append c%d 0 0 2\r\nab\r\ngets c%d\r\n" % (i, i), 3)
    exchange(b"touch c%d 100\r\ndelete c%d\r\n" % (i, i), 2)
sock.sendall(b"quit\r\n")
PY
kill -TERM "$server"
wait "$server" || true
server=""
"$profdata" merge -o "$out/lzcache.profdata" "$raw"

# 3. The optimised build.
RUSTFLAGS="-Cprofile-use=$out_abs/lzcache.profdata" CARGO_TARGET_DIR="$out/build-use" \
  cargo build --release -q -p lzcache
cp "$out/build-use/release/lzcache" "$out/lzcache"
echo "profile-guided build: $out/lzcache"
