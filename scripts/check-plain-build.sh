#!/usr/bin/env bash
# The server as `make run` builds it needs no Verilator: lzcache-sim (the only crate that
# runs it) is not in its dependency tree, and it builds with a `verilator` on PATH that fails
# whenever it is run.
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
PATH="$fake:$PATH" VERILATOR="$fake/verilator" $cargo build -q -p lzcache --bin lzcache
echo "check-plain-build: the server builds without Verilator"
