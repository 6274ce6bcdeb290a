# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install models browser test demo lint bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# insightface is only the tests' reference for SCRFD/ArcFace decoding; see pyproject.toml
	$(PY) -m pip install -q --no-deps 'insightface==2.1'
	touch $(STAMP)

install: $(STAMP)

# Builds the default pack's ONNX network from dlib's weights once (cached with its sha256).
models: $(STAMP)
	$(VENV)/bin/menwei models build dlib-resnet

# Debian's Chromium for the browser tests (Playwright drives it; its own browser download is
# never used), and a small CJK font so the Chinese pages' screenshots show Chinese, not boxes.
# Idempotent: nothing happens once both are installed.
browser:
	command -v chromium >/dev/null && fc-list | grep -qi "wenquanyi" || \
		(apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei)

# Two workers, each test file on one worker (its module fixtures — a server, a browser — are made
# once): the suite waits on brokers, servers and real-time video about half the time, so on a
# 2-core machine it takes ~15 min instead of ~25. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: models browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile

demo: models
	$(VENV)/bin/menwei demo

bench: models
	$(PY) bench/face_bench.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
