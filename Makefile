# fullcycle — `make help` lists the targets.
PYTHON_VERSION := $(shell cat .python-version)
PYENV_PYTHON   := $(or $(wildcard $(HOME)/.pyenv/versions/$(PYTHON_VERSION)/bin/python),$(shell command -v python3.10))
UV_VERSION     := 0.13.9
TOOLS          := .tools
UV             := $(TOOLS)/bin/uv
VENV           := .venv
PY             := $(VENV)/bin/python
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 3

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(UV):
	@test -n "$(PYENV_PYTHON)" || { echo "Python $(PYTHON_VERSION) not found (pyenv install $(PYTHON_VERSION))"; exit 1; }
	$(PYENV_PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode --python $(PYENV_PYTHON)
	@touch $@

venv: $(VENV)/.synced ## Create .venv from uv.lock (TFX 1.16, TF 2.16, tf-keras, pip)

lock: $(UV) ## Re-resolve uv.lock after editing pyproject.toml
	$(UV) lock --python $(PYENV_PYTHON)

demo: venv ## The main job: seed the warehouse, train basic_template, retrain it as a canary, predict
	$(VENV)/bin/fullcycle data seed
	$(VENV)/bin/fullcycle run basic_template
	$(VENV)/bin/fullcycle run basic_template --train-steps 2000
	$(VENV)/bin/fullcycle predict basic_template --instances pipelines/models/basic_template/instances.json

test: venv lint rehearsal-bq ## Lint, then run every test (unit and end-to-end, one rehearsal)
	$(PY) -m pytest -q

lint: venv ## ruff
	$(VENV)/bin/ruff check pipelines infra tests bench

STACK ?= dev
MODEL ?= basic_template
IMAGE ?= fullcycle-runner:local

plan: venv ## Every resource `pulumi up` would create, offline: make plan STACK=prod
	$(VENV)/bin/fullcycle infra plan --stack $(STACK)

compile: venv ## The Vertex AI pipeline spec of a model, offline: make compile MODEL=taxi_tips STACK=prod
	$(VENV)/bin/fullcycle compile $(MODEL) --stack $(STACK) -o $(MODEL)-pipeline.json

image: ## Build the runner image locally with Docker (pulumi up builds and pushes it in the cloud)
	@command -v docker >/dev/null || { echo "make image needs Docker: no docker command here (pulumi up builds the image where Docker runs; make image-test builds it with podman)"; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "make image needs a running Docker daemon: 'docker info' fails here"; exit 1; }
	docker build -f runner_image/Dockerfile -t $(IMAGE) . || { echo "docker build failed: are the base images (python:3.10.13-slim-bookworm, apache/beam_python3.10_sdk:2.74.0) reachable from here? Other bases: --build-arg PYTHON_BASE=... --build-arg BEAM_BASE=..."; exit 1; }
	@echo "Try a Dataflow worker: docker run --rm --network host $(IMAGE) --worker_pool (Beam's boot, port 50000),"
	@echo "then run a pipeline with --runner=PortableRunner --job_endpoint=embed --environment_type=EXTERNAL --environment_config=localhost:50000"

# The rehearsal (tests/rehearsal): the compiled Vertex AI pipeline run here against emulators.
# bqemulator needs Python 3.11: its own venv, from the pyproject and lock beside its launcher.
BQ_PYTHON  := $(or $(lastword $(sort $(wildcard $(HOME)/.pyenv/versions/3.11.*/bin/python))),$(shell command -v python3.11))
BQ_PROJECT := tests/rehearsal/bqemulator
BQ_VENV    := .rehearsal/bq-venv
export REHEARSAL_BQ_VENV := $(abspath $(BQ_VENV))

$(BQ_VENV)/.synced: $(UV) $(BQ_PROJECT)/pyproject.toml $(BQ_PROJECT)/uv.lock
	@test -n "$(BQ_PYTHON)" || { echo "the rehearsal's BigQuery emulator needs Python 3.11 (pyenv install 3.11)"; exit 1; }
	cd $(BQ_PROJECT) && UV_PROJECT_ENVIRONMENT=$(abspath $(BQ_VENV)) $(abspath $(UV)) sync --frozen --python $(BQ_PYTHON)
	@touch $@

rehearsal-bq: $(BQ_VENV)/.synced ## The rehearsal's BigQuery emulator venv (Python 3.11, bqemulator)

rehearse: venv rehearsal-bq ## Run a model's compiled Vertex pipeline here on emulators: make rehearse MODEL=taxi_tips [STACK=dev] [RUNS=2]
	@test -f $${FULLCYCLE_WAREHOUSE:-data/warehouse.duckdb} || $(VENV)/bin/fullcycle data seed
	$(PY) -W ignore -m tests.rehearsal $(MODEL) --stack $(STACK) --runs $(or $(RUNS),1)

image-test: venv ## Build the image with podman from local bases; run it as Cloud Run, Vertex AI and Dataflow do
	runner_image/local/image_test.sh

# The Airflow provider (airflow_provider/): its own lock, one venv per Airflow line.
PROVIDER      := airflow_provider
AIRFLOW_LINES := airflow3 airflow2

$(PROVIDER)/.venv-%/.synced: $(UV) $(PROVIDER)/pyproject.toml $(PROVIDER)/uv.lock
	cd $(PROVIDER) && UV_PROJECT_ENVIRONMENT=.venv-$* $(abspath $(UV)) sync --frozen --group $* --python $(PYENV_PYTHON)
	@touch $@

airflow-test: venv $(foreach line,$(AIRFLOW_LINES),$(PROVIDER)/.venv-$(line)/.synced) ## The Airflow provider's tests on Airflow 3.3 and 2.10, each in its own venv
	@for line in $(AIRFLOW_LINES); do \
		echo "== airflow_provider on $$line"; \
		(cd $(PROVIDER) && .venv-$$line/bin/ruff check fullcycle_provider tests \
			&& FULLCYCLE_BIN=$(abspath $(VENV))/bin/fullcycle .venv-$$line/bin/pytest -q) || exit 1; \
	done

airflow-lock: $(UV) ## Re-resolve airflow_provider/uv.lock after editing its pyproject.toml
	cd $(PROVIDER) && $(abspath $(UV)) lock --python $(PYENV_PYTHON)


.PHONY: help venv lock demo test lint plan compile image image-test rehearsal-bq rehearse airflow-test airflow-lock
