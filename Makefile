.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --no-print-directory

# Python used to create the virtualenv; everything after that runs from .venv.
PYTHON ?= python3
VENV := .venv
VENV_ABS := $(abspath $(VENV))
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-dev.stamp
REQUIREMENTS := requirements-dev.txt
# Extra cargo/maturin flags, e.g. `make test CARGO_FLAGS=--locked` (as CI does).
CARGO_FLAGS ?=
# Arguments for `python -m fnn.lab`, e.g. `make lab LAB_ARGS="--quick"`,
# `LAB_ARGS="activations optimizers --seed 3"`, `LAB_ARGS="--mnist ~/data/mnist"`,
# `LAB_ARGS="--set regularization.alpha=1.0 --out /tmp/lab"`; `--help` lists them all.
LAB_ARGS ?=
# The browser the lab report's tests render it in (Debian's package names),
# with a font so that the text in the screenshot is text.
CHROMIUM_PACKAGES := chromium fonts-liberation

.PHONY: help  ## Show this list of targets
help:
	@grep -E '^\.PHONY: [a-zA-Z_-]+ +## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = "^\\.PHONY: |  ## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$2, $$3}'

$(STAMP): $(REQUIREMENTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -r $(REQUIREMENTS)
	@touch $@

.PHONY: venv  ## Create .venv and install the dev/test requirements (again when they change)
venv: $(STAMP)

.PHONY: build-dev  ## Build the Rust extension (release) and install fnn into .venv
build-dev: $(STAMP)
	env -u CONDA_PREFIX VIRTUAL_ENV=$(VENV_ABS) PATH="$(VENV_ABS)/bin:$$PATH" \
		$(BIN)/maturin develop --release $(CARGO_FLAGS)

.PHONY: wheel  ## Build the abi3 wheel and the sdist into dist/ (the wheel from the sdist)
wheel: $(STAMP)
	rm -f dist/fnn-*.whl dist/fnn-*.tar.gz
	env -u CONDA_PREFIX PATH="$(VENV_ABS)/bin:$$PATH" \
		$(BIN)/maturin build --release --sdist --out dist $(CARGO_FLAGS)
	@ls -l dist/fnn-*

.PHONY: test-rust  ## Run the Rust core's tests (cargo test, no Python needed)
test-rust:
	cargo test $(CARGO_FLAGS)
	@# The recorder behind benches/scaling.rs exists only with its feature.
	cargo test $(CARGO_FLAGS) --features timeline --lib timeline::

.PHONY: test-deps  ## Install the system packages the tests need (Chromium; apt-get, as root)
test-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing $(CHROMIUM_PACKAGES) for the lab report's browser test..."; \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
				$(CHROMIUM_PACKAGES) >/dev/null; \
		else \
			echo "warning: chromium is missing and this is not root with apt-get;" \
				"install it (sudo apt-get install chromium) or the lab report" \
				"tests fail" >&2; \
		fi; \
	fi

.PHONY: test-python  ## Build the extension, then run pytest
test-python: build-dev test-deps
	$(BIN)/python -m pytest -q

.PHONY: test  ## Run every test: cargo test, then build-dev and pytest
test:
	$(MAKE) test-rust
	$(MAKE) test-python

.PHONY: lab  ## Build the extension and run the lesson's lab; report in lab-output/index.html
lab: build-dev
	$(BIN)/python -m fnn.lab $(LAB_ARGS)

# The benchmark environment: the dev requirements plus the peers (PyTorch, JAX, ONNX Runtime).
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.requirements.stamp
BENCH_REQUIREMENTS := benches/requirements.txt
# Arguments for benches/compare.py, e.g. `make bench BENCH_ARGS="--quick"`.
BENCH_ARGS ?=

$(BENCH_STAMP): $(BENCH_REQUIREMENTS) $(REQUIREMENTS)
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --disable-pip-version-check -r $(BENCH_REQUIREMENTS)
	@touch $@

.PHONY: bench-venv  ## Create .venv-bench for `make bench`: dev requirements + PyTorch (a multi-GB download), JAX, ONNX Runtime, skl2onnx
bench-venv: $(BENCH_STAMP)

.PHONY: bench  ## Release build, then benches/compare.py (in .venv-bench if it has torch, else .venv), pytest-benchmark, cargo bench
bench: $(STAMP)
	@venv=$(VENV); \
	if test -x $(BENCH_VENV)/bin/python && $(BENCH_VENV)/bin/python -c "import torch" 2>/dev/null; then \
		venv=$(BENCH_VENV); \
	else \
		echo "bench: no PyTorch in $(BENCH_VENV) (make bench-venv); comparing without it, in $(VENV)"; \
	fi; \
	venv_abs=$$(cd $$venv && pwd); \
	set -x; \
	env -u CONDA_PREFIX VIRTUAL_ENV=$$venv_abs PATH="$$venv_abs/bin:$$PATH" \
		$$venv/bin/maturin develop --release $(CARGO_FLAGS); \
	$$venv/bin/python benches/compare.py $(BENCH_ARGS); \
	$$venv/bin/python -m pytest -q tests/test_benchmarks.py --benchmark-enable --benchmark-only \
		--benchmark-columns=min,median,max,rounds
	cargo bench $(CARGO_FLAGS) --bench kernels
	cargo bench $(CARGO_FLAGS) --features timeline --bench scaling
	$(BIN)/python benches/criterion_table.py

.PHONY: lint  ## Check formatting, lints and the type stub (cargo fmt/clippy, ruff, mypy.stubtest) without changing files
lint: $(STAMP)
	cargo fmt --check
	cargo clippy $(CARGO_FLAGS) --all-targets -- -D warnings
	cargo clippy $(CARGO_FLAGS) --all-targets --features timeline -- -D warnings
	env PYO3_PYTHON=$(VENV_ABS)/bin/python \
		cargo clippy $(CARGO_FLAGS) --features python -- -D warnings
	$(BIN)/ruff check python tests benches
	$(BIN)/ruff format --check python tests benches
	@# The stub ships to users' type checkers (py.typed): hold it to the built module.
	@$(BIN)/python -c "import fnn._core" 2>/dev/null || { \
		echo "lint: fnn._core does not import; run 'make build-dev' first" >&2; exit 1; }
	$(BIN)/python -m mypy.stubtest fnn._core

.PHONY: fmt  ## Format the code (cargo fmt, ruff check --fix, ruff format)
fmt: $(STAMP)
	cargo fmt
	$(BIN)/ruff check --fix --exit-zero python tests benches
	$(BIN)/ruff format python tests benches

.PHONY: clean  ## Remove build output and caches (keeps .venv)
clean:
	cargo clean
	rm -rf dist build lab-output .pytest_cache .ruff_cache .mypy_cache
	rm -f python/fnn/_core*.so python/fnn/_core*.pyd
	find python tests -name __pycache__ -type d -prune -exec rm -rf {} +

.PHONY: clean-all  ## clean, and remove .venv and .venv-bench too
clean-all: clean
	rm -rf $(VENV) $(BENCH_VENV)
