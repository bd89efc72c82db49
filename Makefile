# Two commands take a fresh machine to results and to green tests; each sets itself up.
#   make demo   dependency cache (if needed), release build, the demo job -> results/demo/
#   make test   dependency cache (if needed), the whole test suite (release profile)

CARGO ?= cargo
PYTHON ?= python3
# CI builds exactly the committed Cargo.lock.
CARGO_FLAGS := --release $(if $(CI),--locked,)

.PHONY: deps build test demo doctor

# Debian packages (libosmesa6, for headless rendering) are apt-get installed only when `make deps`
# itself is asked for (or under CI=true), never as a step of `make test` or `make demo`.
deps:
	$(PYTHON) tools/deps.py install $(if $(filter deps,$(MAKECMDGOALS)),--system-packages,)

build: deps
	$(CARGO) build $(CARGO_FLAGS)

test: deps
	$(CARGO) test $(CARGO_FLAGS) --workspace

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
