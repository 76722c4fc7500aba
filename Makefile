# Every target sets itself up: a fresh clone needs only Python 3.11+ and make.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint browser test-browser console test-slow test-container test-spark bench-split bench bench-quick bench-formats bench-dataset bench-memory bench-train bench-monitoring bench-options bench-stores bench-serve bench-query bench-console bench-quarantine soak clean

$(STAMP): requirements*.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)  ## the whole pipeline on an embedded AWS emulator
	$(VENV)/bin/arq-batch demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests utils bench
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint infra/*.yaml
	$(VENV)/bin/hadolint --failure-threshold warning Dockerfile

# The SageMaker Python SDK, the client of tests/sdk, in a venv of its own (see the lock).
SDK_VENV := .venv-sagemaker
$(SDK_VENV)/.installed: requirements-sagemaker.txt
	test -x $(SDK_VENV)/bin/python || python3 -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install --quiet -r requirements-sagemaker.txt
	touch $@

test:  ## lint, the quick benchmark's agreement check, then the test suite
	$(MAKE) --no-print-directory $(STAMP)
	# The SDK's venv and the browser install while lint and the quick benchmark (which
	# asserts agreement between variants, never timings) run side by side.
	$(MAKE) --no-print-directory -j4 lint bench-quick $(SDK_VENV)/.installed browser
	# Three processes, a test file each at a time: the end-to-end tests mostly wait on
	# worker processes and the emulator, so 2 cores serve 3 (measured: 5.5 min, 8.5 alone).
	$(PY) -m pytest -q -n 3 --dist loadfile

browser:  ## Debian's chromium and chromedriver for the console's browser tests (once)
	tests/browser/chromium-setup.sh

test-browser: $(STAMP) browser  ## only the console's browser tests (make test runs them too)
	$(PY) -m pytest -q -m browser

console: $(STAMP)  ## the console on http://127.0.0.1:8090 (against AWS or AWS_ENDPOINT_URL)
	$(VENV)/bin/arq-batch console

test-slow: $(STAMP)  ## long measurements (1 GB file), not part of make test
	$(PY) -m pytest -q -m slow

SPARK_STAMP := $(VENV)/.spark-installed
$(SPARK_STAMP): $(STAMP) requirements-spark.txt
	$(PY) -m pip install --quiet -r requirements-spark.txt
	touch $@

test-spark: $(SPARK_STAMP)  ## arq_batch.spark.score in PySpark's local mode against the emulator
	$(PY) -m pytest -q -m spark

test-container: $(STAMP)  ## build the image with podman and run it as worker and endpoint
	eval "$$(tests/container/podman-setup.sh)" && $(PY) -m pytest -q -m container

bench: $(STAMP)  ## baseline vs ours vs limit, full sizes, then every format; rewrites docs/performance.md
	$(PY) bench/run.py
	$(PY) bench/formats.py
	$(PY) bench/options.py

bench-quick: $(STAMP)  ## small sizes; checks that the variants agree on predictions
	$(PY) bench/run.py --quick

bench-formats: $(STAMP)  ## every format, ours vs its limit (about 2 min)
	$(PY) bench/formats.py
	$(PY) bench/options.py

bench-query: $(STAMP)  ## status and count(*) at 1k, 10k and 100k jobs recorded (about 5 min)
	$(PY) bench/query.py

bench-console: $(STAMP)  ## the console's pages at 100k jobs recorded, and its memory (about 3 min)
	$(PY) bench/console.py

bench-quarantine: $(STAMP)  ## the 1M-row CSV job with a bad-row budget, clean and 1% bad (about 2 min)
	$(PY) bench/quarantine.py

bench-dataset: $(STAMP)  ## the predictions dataset's cost per job, and query times
	$(PY) bench/dataset.py

soak: $(STAMP)  ## a 3-worker fleet through 10,000 jobs with faults on; writes docs/reliability.md
	$(PY) -m tests.faults.soak --write

bench-monitoring: $(STAMP)  ## the 1M-row CSV job with monitoring on and off (about 2 min)
	$(PY) bench/monitoring.py

bench-options: $(STAMP)  ## the 1M-row CSV job with Batch Transform's job options
	$(PY) bench/options.py

bench-stores: $(STAMP)  ## the 1M-row job on the emulator and on rclone's S3 server
	$(PY) bench/stores.py

bench-split: $(STAMP)  ## a ~2 GB CSV whole by one worker, then split across 2 and 4 (about 10 min)
	$(PY) bench/split.py --rows 18000000

bench-train: $(STAMP)  ## training on a ~1 GB raw CSV: naive pandas fit vs ours vs exact reference (about 10 min)
	$(PY) bench/training.py --rows 10000000

bench-memory: $(STAMP)  ## the worker's peak RSS over its floor, start-up and one-job time
	$(PY) bench/memory.py --big --write

BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: bench/requirements-mlflow.txt
	test -x $(BENCH_VENV)/bin/python || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -r bench/requirements-mlflow.txt
	touch $@

bench-serve: $(STAMP) $(BENCH_VENV)/.installed  ## our endpoint vs mlflow models serve (wrk)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	MLFLOW_PYTHON=$(BENCH_VENV)/bin/python $(PY) bench/serving.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(SDK_VENV) .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
