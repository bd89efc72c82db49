# Two commands take a fresh machine to results and to green tests; each sets itself up.
#   make demo   dependency cache (if needed), release build, the demo job -> results/demo/
#   make test   dependency cache (if needed), the whole test suite (release profile)

CARGO ?= cargo
PYTHON ?= python3
# CI builds exactly the committed Cargo.lock.
CARGO_FLAGS := --release $(if $(CI),--locked,)

.PHONY: deps build test demo doctor wheel python python-test

# Debian packages (libosmesa6, for headless rendering) are apt-get installed only when `make deps`
# itself is asked for (or under CI=true), never as a step of `make test` or `make demo`.
deps:
	$(PYTHON) tools/deps.py install $(if $(filter deps,$(MAKECMDGOALS)),--system-packages,)

build: deps
	$(CARGO) build $(CARGO_FLAGS)

test: deps
	$(CARGO) test $(CARGO_FLAGS) --workspace
	$(MAKE) python python-test

# The Python module metarl_envs (python/): a wheel built with the cache's maturin, carrying the
# Meta-World assets and libmujoco, so it needs neither the repository nor the cache once built.
PY_PACKAGE := python/metarl_envs
WHEELS := target/wheels
PY_VENV := target/python/venv

wheel: deps
	rm -rf $(PY_PACKAGE)/metaworld_xml $(PY_PACKAGE)/libmujoco.so.* $(WHEELS)/metarl_envs-*.whl
	cp -r metaworld_xml $(PY_PACKAGE)/metaworld_xml
	cp .deps/mujoco/libmujoco.so.3.3.7 $(PY_PACKAGE)/
	.deps/venv/bin/maturin build --release $(if $(CI),--locked,) --quiet --manifest-path python/Cargo.toml \
		--interpreter .deps/venv/bin/python --compatibility linux --auditwheel skip --out $(WHEELS)

# The wheel in a fresh venv beside nothing but what it asks for (numpy, gymnasium).
python: wheel
	rm -rf $(PY_VENV)
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install --quiet $(WHEELS)/metarl_envs-*.whl
	$(PY_VENV)/bin/python -c "import metarl_envs; metarl_envs.make('reach-v3').reset(); metarl_envs.make('cheetah-vel').reset(); print('metarl_envs:', len(metarl_envs.ENVS), 'envs, from', metarl_envs.__file__)"

# python/tests: the wheel beside the reference packages (metaworld, mujoco) of the cache's venv.
python-test: wheel
	rm -rf target/python/site
	.deps/venv/bin/python -m pip install --quiet --no-deps --no-index --target target/python/site $(WHEELS)/metarl_envs-*.whl
	PYTHONPATH=target/python/site .deps/venv/bin/python -m pytest -q python/tests

doctor: build
	./target/release/metarl doctor

# A short PEARL meta-training run on point-robot (about a minute on 2 cores): its learning
# curve is results/demo/pearl-point-robot/progress.csv (test_return by iteration) and curves.png,
# and meta-test.gif films its meta-test on a test task.
DEMO_RUN := results/demo/pearl-point-robot

demo: build
	./target/release/metarl doctor
	rm -rf $(DEMO_RUN)
	./target/release/metarl train pearl --env point-robot --config configs/demo/point-robot.json --seed 0 --out $(DEMO_RUN)
	cut -d, -f1-4 $(DEMO_RUN)/progress.csv
	./target/release/metarl render $(DEMO_RUN) --task 1 --every 2 --out $(DEMO_RUN)/meta-test.gif
