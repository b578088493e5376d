# yuqing: `make demo` runs the live demo, `make test` runs the whole test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install system-deps run benchmark clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/yuqing demo

run: install
	$(BIN)/yuqing run

system-deps:
	@bash scripts/install-system-deps.sh

test: install system-deps
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var build *.egg-info
