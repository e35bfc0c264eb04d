#!/usr/bin/env bash
# The server as `make run` builds it needs no Verilator: lzcache-sim (the only crate that
# runs it) is not in its dependency tree, and it compiles with a `verilator` on PATH that
# fails whenever it is run. `cargo check` runs every build script (where Verilator would
# run) and compiles every crate but links nothing, and it shares clippy's work on the
# dependencies, where a full build of the plain feature set took minutes of make test.
set -euo pipefail
cargo=${CARGO:-cargo}
if $cargo tree -p lzcache -e normal,build --prefix none | grep -q '^lzcache-sim '; then
  echo "check-plain-build: the server without features depends on lzcache-sim" >&2
  exit 1
fi
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
printf '#!/bin/sh\necho "verilator must not run when building the plain server" >&2\nexit 1\n' > "$fake/verilator"
chmod +x "$fake/verilator"
PATH="$fake:$PATH" VERILATOR="$fake/verilator" $cargo check -q -p lzcache --bin lzcache
echo "check-plain-build: the server compiles without Verilator (cargo check)"
