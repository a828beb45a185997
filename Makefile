# Two commands for a fresh machine:  `make demo` (build the demo dataset)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# librosa's numba kernels compile once (30-50 s) and are cached here for every later run (songset sets
# the same default itself when imported, so `dvc repro` outside make uses this cache too).
export NUMBA_CACHE_DIR ?= $(HOME)/.cache/songset/numba
export GX_ANALYTICS_ENABLED := False

.PHONY: install install-hf warm demo test lint params schemas clean-outputs mutation

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

# The in-process audio LLMs (Transformers, peft, torch==2.13.0): the tests need them, the offline demo does not.
install-hf: $(VENV)/.installed-hf

$(VENV)/.installed-hf: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,hf,ray,remote,beat_this]"
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt beat-this  # its torchaudio pin: see pyproject
	touch $@

warm: install
	$(BIN)/python -c "from songset import numba_cache; numba_cache.prepare()"

demo: warm
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro
	@echo "open reports/quality.html first; sidecars: data/sidecars/; validation: reports/validation.json"

test: warm install-hf
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

params: install
	$(BIN)/songset compose

schemas: install
	$(BIN)/songset schema -o schemas

# Do the tests notice small wrong changes where a silent bug costs a training run? Minutes per module;
# not part of `make test`. One module: `make mutation MODULES=sidecars`.
mutation: install
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,mutation]"
	$(BIN)/python bench/mutation.py $(MODULES)
