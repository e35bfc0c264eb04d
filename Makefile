# lzcache — `make help` lists the targets.

SHELL := /bin/bash
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN_ARGS ?=

# Debian packages: what building and running need (the server includes the simulated
# accelerator, so Verilator and libclang build it), and what the tests add.
RUN_PACKAGES := build-essential pkg-config verilator clang libclang-dev zlib1g-dev
TEST_PACKAGES := $(RUN_PACKAGES) yosys python3-matplotlib \
	libmemcached-tools python3-pymemcache memcached

.PHONY: help run build test check fmt lint clippy rtl-lint synth bench hwreport loadbench deps-run deps clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: deps-run ## Start the server (software codec, 127.0.0.1:11211, 64 MiB); RUN_ARGS="-p 11311 -m 128" to change
	$(CARGO) run --release -p lzcache -- $(RUN_ARGS)

build: deps-run ## Build everything in release mode
	$(CARGO) build --release --workspace

test: deps lint synth ## Every check and test: format, clippy, RTL lint and synthesis, all test suites
	$(CARGO) test --workspace --all-targets
	@echo "make test: all checks passed"

lint: fmt clippy rtl-lint ## rustfmt check, clippy, verilator --lint-only -Wall

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

rtl-lint: ## Lint every RTL module with verilator -Wall
	@$(MAKE) --no-print-directory -C rtl lint

synth: ## Synthesize every RTL module with yosys synth_xilinx; resource summaries in rtl/build/
	@$(MAKE) --no-print-directory -j2 -C rtl synth

bench: deps-run ## Software codec beside lz4 C and the crc crate (criterion), then the ratios
	$(CARGO) bench -p lzcache-benches --bench codec
	python3 benches/summarize.py target/criterion

hwreport: deps synth ## The RTL in clock cycles over the corpus, beside lz4 C, with resources (CSV/JSON in target/)
	$(CARGO) run --release -p lzcache-benches --bin hwreport

loadbench: deps ## lzcache beside memcached under memcaslap load, then items held past -m
	scripts/loadbench.sh

# Install missing Debian packages (apt-get, with sudo when not root).
deps-run:
	@./scripts/install-deps.sh $(RUN_PACKAGES)

deps:
	@./scripts/install-deps.sh $(TEST_PACKAGES)

clean: ## Remove build output
	$(CARGO) clean
	rm -rf rtl/build
