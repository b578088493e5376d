# yuqing: `make demo` runs the live demo, `make test` runs the whole test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install system-deps run benchmark sentiment-model idf-table clean

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

# The shipped sentiment model, rebuilt from the training corpora beside the project (see analysis/models/README.md):
# the extra corpora (binary, mostly reviews) weigh what train-sentiment's --extra-weight says by default.
sentiment-model: install
	$(BIN)/yuqing train-sentiment --data ../shared/data/sentiment/train --extra ../shared/data/sentiment/train_extra \
		--out analysis/models/sentiment

# The shipped IDF table for keywords: Weibo posts and reviews (training sets only) and news headlines.
idf-table: install
	$(BIN)/yuqing build-idf --data ../shared/data/sentiment/train --data ../shared/data/topics/thucnews_titles_dev.jsonl --out analysis/models/idf.tsv.gz

clean:
	rm -rf $(VENV) var build *.egg-info
