# The commands of the README, each doing all of its own set-up (docs/commands.md says what each does):
#   make demo       creates .venv, installs rpnumpy, runs the five-minute tour (report in reports/demo)
#   make reproduce  the same set-up, then every chapter at full size (about two hours on 2 cores; resumable:
#                   rerun to continue an interrupted run, REPRODUCE_FLAGS=--fresh to start over)
#   make test       creates .venv, installs rpnumpy with its test extra, runs ruff and the whole test suite
# and the course's two editions (notebooks/README.md), with the same set-up:
#   make student  writes build/student/: the notebooks with every exercise's solution a stub, outputs cleared
#   make book     writes build/book/: index.html and one HTML page per notebook, math typeset offline
# Data: $RPNUMPY_DATA if set, else ../shared/data if it exists, else the loaders' own look-up
# (user cache, then download).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= test,notebooks
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

ifeq ($(origin RPNUMPY_DATA), undefined)
  ifneq ($(wildcard ../shared/data),)
    export RPNUMPY_DATA := $(abspath ../shared/data)
  endif
endif

.PHONY: demo reproduce test lint bench install student book clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[$(EXTRAS)]"
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m rpnumpy demo --out reports/demo

REPRODUCE_FLAGS ?=
reproduce: $(STAMP)
	$(BIN)/python -m rpnumpy reproduce all --out reports $(REPRODUCE_FLAGS)

lint: $(STAMP)
	$(BIN)/ruff check rpnumpy tests benchmarks

student: $(STAMP)
	rm -rf build/student
	$(BIN)/python -m rpnumpy.course student --notebooks notebooks --out build/student

book: $(STAMP)
	rm -rf build/book
	$(BIN)/python -m rpnumpy.course book --notebooks notebooks --out build/book

test: lint
	RPNUMPY_SMOKE=1 MPLBACKEND=Agg $(BIN)/python -m pytest --nbmake --nbmake-timeout=600 tests notebooks

# make bench: every model against PyTorch (one process each), matmul peak, memory, model files, SRHT crossover,
# three timed runs of the demo (BENCH_FLAGS=--no-demo skips them); writes benchmarks/RESULTS.md and
# benchmarks/results_suite.json (about 10 minutes on 2 quiet cores, plus the demo runs). The closed-form races
# come from a full SNNK chapter run (`python -m rpnumpy reproduce snnk`) if one is in reports/.
BENCH_FLAGS ?=
bench:
	$(MAKE) install EXTRAS=test,notebooks,torch
	$(BIN)/python benchmarks/bench_suite.py --out benchmarks/RESULTS.md --json benchmarks/results_suite.json \
	  $(addprefix --closed-form ,$(firstword $(wildcard reports/snnk/results_snnk.json))) $(BENCH_FLAGS)

clean:
	rm -rf $(VENV) reports build .pytest_cache .ruff_cache
