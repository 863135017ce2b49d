# nanoforge: `make demo` and `make test` on a fresh machine; `make bench` for the benchmark figures.
SHELL := /bin/bash
.DEFAULT_GOAL := build

SWIFT ?= swift
RELEASE := -c release
# Tests build in release (the training tests are slow in debug); @testable import needs -enable-testing.
TEST_FLAGS := $(RELEASE) -Xswiftc -enable-testing
NANOFORGE := .build/release/nanoforge

.PHONY: setup build test demo bench clean distclean help

help:
	@echo "make setup      install system libraries, Python interop packages and data (idempotent)"
	@echo "make build      release build of the nanoforge CLI"
	@echo "make test       build and run every test (release, -enable-testing)"
	@echo "make demo       run the bundled demo end to end"
	@echo "make bench      benchmarks against numpy and PyTorch CPU -> bench/results/core.json"
	@echo "make clean      remove .build/;  make distclean  also .cache/ and .venv-bench/"

setup:
	@scripts/setup.sh

# build, test and bench share one .build/release (same flags), so switching between them does not rebuild.
build: setup
	$(SWIFT) build $(TEST_FLAGS)

# One build of library and tests, then the run reuses it (--skip-build).
test: setup
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	$(SWIFT) test $(TEST_FLAGS) --skip-build

demo: build
	$(NANOFORGE) demo

bench:
	@scripts/setup.sh --bench
	$(SWIFT) build $(TEST_FLAGS)
	$(NANOFORGE) bench core
	$(NANOFORGE) bench minilm

clean:
	rm -rf .build

distclean: clean
	rm -rf .cache .venv-bench
