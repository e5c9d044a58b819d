# The two set-up commands of cora (see README.md). Both install what is missing first.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test test-long test-fast lint bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/bin/cora demo

test: setup
	VENV=$(VENV) bash scripts/lint.sh
	$(PY) -m pytest -q --durations=25 -m "not long" tests

# The tests marked `long` (the kernel run of netfuncs/ina/ina.nf, the exhaustive split and
# partition checks of firewall, nat and lb, the runtime experiment, the every-option CLI test),
# left out of `make test` to keep CI within 30 minutes.
test-long: setup
	$(PY) -m pytest -q -m long tests

# ruff over the tree and mypy over the package (part of `make test`)
lint: setup
	VENV=$(VENV) bash scripts/lint.sh

# Developer note (not a set-up command): every test that needs no root (markers kernel, netns
# and slow excluded: no eBPF load, no namespaces), without the root set-up; it only makes
# .venv (no root) when there is none. Well under a minute on an idle machine.
test-fast:
	@[ -x $(PY) ] || { python3 -m venv --system-site-packages $(VENV) && \
		$(PY) -m pip install -q -e ".[test]"; }
	$(PY) -m pytest -q -m "not kernel and not netns and not slow and not long" tests

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
