# Two commands do all set-up: `make run` starts the service on the embedded defaults,
# `make test` runs the tests. Each creates the virtualenv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The official MCP Python SDK 1.x, the last with a WebSocket client: tests/interop runs it against /mcp.
SDK1_VENV ?= .venv-sdk1
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# No prerequisites: built once, rebuilt only when missing (`make clean` removes it).
$(SDK1_VENV)/.installed:
	$(PYTHON) -m venv $(SDK1_VENV)
	$(SDK1_VENV)/bin/python -m pip install --quiet 'mcp>=1.10,<2' 'websockets>=14'
	touch $@

install: $(VENV)/.installed $(SDK1_VENV)/.installed

# The server needs only .venv; .venv-sdk1 is for the interop tests.
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	HOST=$(HOST) PORT=$(PORT) PY=$(PY) bash deploy/run_local.sh

# Node 22 and the MCP TypeScript SDK for the WebSocket interop test (from npm, cached in ~/.cache).
test: install
	@bash tests/interop/node.sh || echo "tests/interop/node.sh could not install Node 22 and the MCP TypeScript SDK (npm is needed the first time); the TypeScript interop test will fail"
	@PY=$(PY) bash tests/lambda/rie.sh || echo "tests/lambda/rie.sh could not unpack the Lambda Runtime Interface Emulator (pip is needed the first time); the poller's emulator test will fail"
	PY=$(PY) bash tests/run.sh $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) $(SDK1_VENV) db.sqlite3 .pytest_cache .ruff_cache
