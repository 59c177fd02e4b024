PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export OMP_NUM_THREADS ?= 2
export TOKENIZERS_PARALLELISM ?= false
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: venv demo test lint checkpoints baseline clean bench

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m deem_eval.demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -x --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_eval.py

# Retrain every bundled checkpoint from scratch on the built-in world (fixed seeds).
checkpoints: $(STAMP)
	$(BIN)/python -m deem_model.train.pipeline --out deem_model/checkpoints

# Refresh the CI regression baseline deliberately (deem-tiny on the small world).
baseline: $(STAMP)
	$(BIN)/python -m deem_eval.baseline --write results/baseline_small.json

clean:
	rm -rf $(VENV) build *.egg-info
