# Two commands on a fresh machine with python3 and make: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-min lint bench bench-quick docs-figures sample-data generic-model clean

# $(call install,VENV,PIP INSTALL ARGUMENTS): a fresh venv with eegmon in it, pip's output in
# VENV/install.log (its last lines on stderr if pip fails).
define install
	@echo "installing eegmon into $(1) (log: $(1)/install.log)…"
	@$(PYTHON) -m venv $(1)
	@{ $(1)/bin/python -m pip install --upgrade pip && $(1)/bin/python -m pip install $(2); } \
		>$(1)/install.log 2>&1 || { echo "pip failed; the end of $(1)/install.log:" >&2; \
		tail -n 25 $(1)/install.log >&2; exit 1; }
endef

# $(call sefef,VENV): sefef (the tests compare Brier scores with it) pins exact versions of numpy,
# scikit-learn and eight more packages, which would undo ours: it goes in without them (what it
# imports is in the [test] extra).
define sefef
	@$(1)/bin/python -m pip install --no-deps "sefef==3.0.0" >>$(1)/install.log 2>&1 || \
		{ echo "pip failed to install sefef; the end of $(1)/install.log:" >&2; tail -n 25 $(1)/install.log >&2; exit 1; }
endef

$(STAMP): pyproject.toml
	$(call install,$(VENV),-e ".[dev]")
	$(call sefef,$(VENV))
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/eegmon demo

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

# The suite on the lowest versions pyproject.toml allows (every ">=" bound pinned with "==").
VENV_MIN := .venv-min
MIN_EXTRAS := test,viewer
$(VENV_MIN)/.installed: pyproject.toml .ci/min_constraints.py
	@mkdir -p $(VENV_MIN) && echo '*' > $(VENV_MIN)/.gitignore  # as venv does from Python 3.13 (git, ruff)
	$(PYTHON) .ci/min_constraints.py $(MIN_EXTRAS) > $(VENV_MIN)/constraints-min.txt
	$(call install,$(VENV_MIN),-c $(VENV_MIN)/constraints-min.txt -e ".[$(MIN_EXTRAS)]")
	$(call sefef,$(VENV_MIN))
	@touch $@

test-min: $(VENV_MIN)/.installed
	QT_QPA_PLATFORM=offscreen $(VENV_MIN)/bin/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b --json bench-results/$$(basename $$b .py).json || exit 1; done

bench-quick: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b --quick --json bench-results/$$(basename $$b .py)-quick.json || exit 1; done

# Rewrites the benchmark tables in README.md and docs/*.md from bench-results/*.json (run a bench target first).
docs-figures: $(STAMP)
	$(BIN)/python benchmarks/docs_figures.py

# Regenerates the committed sample recording (see sample_data/README.md).
sample-data: $(STAMP)
	rm -rf sample_data/sim
	$(BIN)/eegmon simulate sample_data/sim --days 0.1667 --start 2025-01-06T21:00:00Z --seed 17 \
		--seizures-per-day 30 --config sample_data/demo_config.json --jobs 1

# Re-trains the bundled generic model (recipe: detectors/generic.py, docs/detection.md). It needs the
# project's real EEG: ../shared/realdata beside the checkout, or EEGMON_REALDATA=DIR. About 10 min.
generic-model: $(STAMP)
	$(BIN)/python -m eegmon.detectors.generic

clean:
	rm -rf $(VENV) $(VENV_MIN) bench-results
