# homelab.immich — developer entry points.  `make test` runs every check CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export PODMAN_IGNORE_CGROUPSV1_WARNING := 1
SCENARIOS ?=

.PHONY: test venv host image images ml-unit lint sanity unit integration validation molecule argspecs docs changelog demo demo-down demo-photos demo-status demo-sleep demo-wake demo-browse lock clean

## test: everything CI runs (venv, host packages, test images, lint, unit, integration, validation,
## sanity, molecule). The venv and the host's packages and base images are made at once; the test
## images (long on a cold machine: the real Immich is built from source) build while the checks that
## need no container run beside them (lint, pylint and pytest use one core each); the checks that
## start containers (integration, validation) run after them, on a quiet machine.
test:
	$(MAKE) --no-print-directory -j2 -O venv image
	$(MAKE) --no-print-directory -o host -o image -j2 -O images lint argspecs unit sanity
	$(MAKE) --no-print-directory -o host -o image -o images ml-unit integration validation molecule

## venv: .venv from the pinned requirements.lock, and this checkout linked as homelab.immich
venv: $(VENV)/.stamp .collections/ansible_collections/homelab/immich

$(VENV)/.stamp: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/pip check
	touch $@

.collections/ansible_collections/homelab/immich:
	mkdir -p .collections/ansible_collections/homelab
	ln -sfn ../../.. $@

## lock: regenerate requirements.lock from requirements.txt
lock:
	rm -rf build/lockvenv && $(PYTHON) -m venv build/lockvenv
	build/lockvenv/bin/pip install -q -r requirements.txt
	build/lockvenv/bin/pip freeze --exclude-editable | grep -v '^pip==' > requirements.lock

## host: podman, runc, mmdebstrap and podman defaults for this machine (needs root)
host:
	ci/host-setup.sh

## image: the Debian trixie systemd test image, and the bookworm one that the ML test image
## starts from (Python 3.11, as the official image); each rebuilt only when its recipe changes
image: host
	ci/build-test-image.sh
	SUITE=bookworm ci/build-test-image.sh

## lint: yamllint, ruff, ansible-lint (production profile)
lint: venv
	yamllint -s .
	ruff check .
	ruff format --check .
	ansible-lint --offline -q

## argspecs: every role's meta/argument_specs.yml matches its defaults, and role READMEs are current
argspecs: venv
	$(BIN)/python tools/role_docs.py --check

## docs: regenerate the variable tables in roles/*/README.md from the argument specs
docs: venv
	$(BIN)/python tools/role_docs.py --write

unit: venv
	$(BIN)/pytest -q tests/unit

## images: the local test images of tests/images (the real Immich built from source among them),
## each rebuilt only when the hash of its inputs changes, and published to the shared image store
## that Molecule test hosts mount read-only (tests/images/publish.sh)
TEST_IMAGES = $(notdir $(patsubst %/Containerfile,%,$(wildcard tests/images/*/Containerfile)))
images: image
	tests/images/build.sh $(TEST_IMAGES)
	tests/images/publish.sh $(TEST_IMAGES)

## ml-unit: the generated models load and answer through the real immich_ml, inside its image
ml-unit: images
	podman run --rm --no-healthcheck --network none -v $(CURDIR)/tests:/src/tests:ro --entrypoint python \
	  localhost/immich-machine-learning:latest -m pytest -q --noconftest -p no:cacheprovider /src/tests/unit/test_fake_models.py

integration: venv
	$(BIN)/pytest -q tests/integration

## validation: site.yml refuses each class of bad input before any host changes (fresh test containers val-*)
validation: venv image
	$(BIN)/pytest -q tests/validation

## sanity: ansible-test sanity on a copy of the collection outside this git tree (ansible-test
## would skip git-ignored paths); pip is bootstrapped from PyPI (ci/get_pip_shim.py)
SANITY_DIR ?= /tmp/homelab-immich-sanity
GET_PIP := $(HOME)/.ansible/test/cache/get_pip_24_2.py
sanity: venv
	test -f $(GET_PIP) || install -D -m 0644 ci/get_pip_shim.py $(GET_PIP)
	mkdir -p $(SANITY_DIR)/ansible_collections/homelab/immich
	rsync -a --delete --exclude-from=ci/sanity-exclude ./ $(SANITY_DIR)/ansible_collections/homelab/immich/
	cd $(SANITY_DIR)/ansible_collections/homelab/immich && ansible-test sanity --venv --python 3.11 --color no $(SANITY_ARGS)

## molecule: every scenario (or SCENARIOS="a b"), each with idempotence and a check-mode pass
molecule: venv image
	ci/run-scenarios.sh $(SCENARIOS)

changelog: venv
	antsibull-changelog lint

## demo: a small homelab on this machine (tests/demo: a server and two ML workers in podman
## containers demo-*, converged by site.yml with tests/demo/inventory); prints the URL to open
## (this machine's loopback), the admin's e-mail and where the generated password is
demo: venv image
	tests/demo/demo.sh up

## demo-photos: upload the generated sample photos to the demo as its admin, wait for the jobs
demo-photos: venv
	tests/demo/demo.sh photos

## demo-status: one line, each ML worker's state and the requests it served (HAProxy's counters)
demo-status:
	tests/demo/demo.sh status

## demo-sleep / demo-wake: the ML worker demo-worker2 (WORKER=...) goes to sleep / wakes up
WORKER ?= demo-worker2
demo-sleep:
	tests/demo/demo.sh sleep $(WORKER)
demo-wake:
	tests/demo/demo.sh wake $(WORKER)

## demo-browse: the browser test against the demo (Chromium, headless); screenshots in build/browser
demo-browse: venv
	tests/demo/demo.sh browse

## demo-down: remove everything the demo created (containers, network, generated secrets)
demo-down:
	tests/demo/demo.sh down

clean:
	rm -rf build .collections .pytest_cache .ruff_cache
