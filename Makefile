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
# Arguments for `python -m fnn.lab`, e.g. `make lab LAB_ARGS="--engine numpy"`.
LAB_ARGS ?=

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

.PHONY: test-rust  ## Run the Rust core's tests (cargo test, no Python needed)
test-rust:
	cargo test $(CARGO_FLAGS)

.PHONY: test-python  ## Build the extension, then run pytest
test-python: build-dev
	$(BIN)/python -m pytest -q

.PHONY: test  ## Run every test: cargo test, then build-dev and pytest
test:
	$(MAKE) test-rust
	$(MAKE) test-python

.PHONY: lab  ## Build the extension and run the lesson's lab (python -m fnn.lab)
lab: build-dev
	$(BIN)/python -m fnn.lab $(LAB_ARGS)

.PHONY: lint  ## Check formatting and lints (cargo fmt/clippy, ruff) without changing files
lint: $(STAMP)
	cargo fmt --check
	cargo clippy $(CARGO_FLAGS) --all-targets -- -D warnings
	env PYO3_PYTHON=$(VENV_ABS)/bin/python \
		cargo clippy $(CARGO_FLAGS) --features python -- -D warnings
	$(BIN)/ruff check python tests
	$(BIN)/ruff format --check python tests

.PHONY: fmt  ## Format the code (cargo fmt, ruff check --fix, ruff format)
fmt: $(STAMP)
	cargo fmt
	$(BIN)/ruff check --fix --exit-zero python tests
	$(BIN)/ruff format python tests

.PHONY: clean  ## Remove build output and caches (keeps .venv)
clean:
	cargo clean
	rm -rf dist build lab-output .pytest_cache .ruff_cache
	rm -f python/fnn/_core*.so python/fnn/_core*.pyd
	find python tests -name __pycache__ -type d -prune -exec rm -rf {} +

.PHONY: clean-all  ## clean, and remove .venv too
clean-all: clean
	rm -rf $(VENV)
