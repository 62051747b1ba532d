# Everything a newcomer needs: `make demo` (a real fit) and `make test` (the suite).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all lint docs docs-outputs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/sleepstudy.py

test: $(STAMP)
	$(PY) -m ruff check mixedfit tests examples
	$(PY) -m pytest -m "not slow" -q
	$(PY) -m mkdocs build --strict --site-dir build/site

test-all: $(STAMP)
	$(PY) -m pytest -q

docs: $(STAMP)
	$(PY) -m mkdocs build --strict --site-dir build/site
	@echo "Documentation built in build/site: open build/site/index.html, or serve it"
	@echo "(search needs a server: $(PY) -m http.server -d build/site 8000)"

# Regenerates everything the docs show that the code prints: the outputs pasted in
# the pages (docs/render_outputs.py), the executed notebooks in docs/notebooks, the
# site, and the screenshots in docs/images/screenshots (with Chromium installed).
docs-outputs: $(STAMP)
	$(PY) docs/render_outputs.py
	$(PY) -m mkdocs build --strict --site-dir build/site
	$(PY) docs/screenshots.py

lint: $(STAMP)
	$(PY) -m ruff check mixedfit tests examples

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
