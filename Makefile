# Two commands take a fresh machine to results and to green tests; each sets itself up.
#   make demo   dependency cache (if needed), release build, the demo job -> results/demo/
#   make test   dependency cache (if needed), the whole test suite (release profile)

CARGO ?= cargo
PYTHON ?= python3
# CI builds exactly the committed Cargo.lock.
CARGO_FLAGS := --release $(if $(CI),--locked,)

.PHONY: deps build test demo doctor

deps:
	$(PYTHON) tools/deps.py install

build: deps
	$(CARGO) build $(CARGO_FLAGS)

test: deps
	$(CARGO) test $(CARGO_FLAGS) --workspace

doctor: build
	./target/release/metarl doctor

demo: build
	./target/release/metarl doctor
	./target/release/metarl bench mujoco --out results/demo/mujoco_step.csv
