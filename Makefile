# Set-up is idempotent: each stamp reinstalls only when pyproject.toml changed. `make run` installs the app alone
# (no torch, no trainer); `make test` adds what the tests need (pytest, and torch for the trainer's tests).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-app
TEST_STAMP := $(VENV)/.installed-test
export QT_QPA_PLATFORM ?= offscreen

.PHONY: install run test bench bundle clean

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) (Python 3.11)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $(STAMP)

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev,train]"
	touch $(STAMP) $(TEST_STAMP)

install: $(STAMP)

# The window needs Qt's X11 libraries: installed with apt where that needs no password, else the command is printed.
run: install
	sh tools/qt-deps.sh $(VENV)
	env -u QT_QPA_PLATFORM $(BIN)/faceid

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q

# BENCH_ARGS="--photos DIR [--accuracy DIR]" benchmarks photos from DIR (default: the shipped samples); the peers (dlib, OpenCV) need .[bench].
bench: $(TEST_STAMP)
	$(BIN)/pip install -q -e ".[bench]" || echo "peers not installed: their columns are left out"
	$(BIN)/python -m faceid_gui.bench $(BENCH_ARGS)
	$(BIN)/python -m trainer.bench

bundle: install
	$(BIN)/pip install -q -e ".[bundle]"
	$(BIN)/pyinstaller --noconfirm --clean faceid.spec
	QT_QPA_PLATFORM=offscreen dist/faceid/faceid --self-test

clean:
	rm -rf build dist
