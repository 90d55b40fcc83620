# Two commands on a fresh machine with python3 and make: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-quick docs-figures sample-data generic-model clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/eegmon demo

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

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
	rm -rf $(VENV) bench-results
