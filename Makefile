# Two commands for a newcomer: `make demo` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
COLLECTION_LINK := .cache/collections/ansible_collections/meshops/multicluster
DEMO_CLUSTERS ?= 3

.PHONY: demo test system-deps venv binaries lab-up lab-down lab-status unit integration sanity lint docs build-collection ee changelog-lint galaxy-import bench clean

demo: venv binaries
	@$(PY) -m lab status >/dev/null 2>&1 || $(PY) -m lab up --clusters $(DEMO_CLUSTERS)
	$(PY) -m lab demo-app
	$(PY) -m lab exec -- ansible-playbook -i inventory/lab playbooks/site.yml
	@echo; echo "== what every cluster received for httpbin (exported by cluster1), and what its istiod sends a sidecar:"
	@$(PY) -m lab show httpbin.bar.global
	@echo "== the fleet report: $(CURDIR)/.lab/reports/mesh-report.html"

test: venv binaries system-deps unit integration sanity lint docs build-collection ee changelog-lint galaxy-import

# Debian packages the tests use: Chromium opens the fleet report page and takes a screenshot.
system-deps:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
		|| { echo "make test needs Chromium: apt-get install chromium" >&2; exit 2; }

venv: $(VENV)/.installed $(COLLECTION_LINK)
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@
$(COLLECTION_LINK):
	mkdir -p $(dir $@) && ln -sfn $(CURDIR) $@

# Lab binaries are built once from the Go module proxy and cached outside the repository.
binaries: venv
	$(PY) -m lab build

lab-up: venv binaries
	$(PY) -m lab up --clusters $(DEMO_CLUSTERS)
lab-down:
	$(PY) -m lab down
lab-status:
	$(PY) -m lab status

unit: venv
	$(VENV)/bin/pytest -q tests/unit

# Starts its own lab (instance 1, beside a demo lab) and stops it at the end; prints the slowest
# tests, against the suite's 40-minute budget.
integration: venv binaries
	$(VENV)/bin/pytest -q --durations=25 tests/integration

# Plain ansible-test sanity over every repository file, on Python 3.11, 3.12 and 3.13 (tests/sanity.py).
sanity: venv
	$(PY) tests/sanity.py

lint: venv
	$(VENV)/bin/ansible-lint --profile production roles playbooks

build-collection: venv
	$(PY) tests/build_collection.py

# The execution environment: ansible-builder creates the build context of
# execution-environment/execution-environment.yml (in a temporary directory, no container runtime) and the
# test checks it (pinned base image, helm checksums, the collection's dependency files). About 3 s.
ee: venv
	$(VENV)/bin/pytest -q -p no:cacheprovider tests/unit/test_execution_environment.py

# The changelog fragments and changelogs/changelog.yaml (releasing: docs/development.md#releasing).
changelog-lint: venv
	$(VENV)/bin/antsibull-changelog lint

# galaxy-importer on the built tarball with Galaxy's and Automation Hub's settings, offline. Its pins
# clash with ours (attrs), so it has a venv of its own.
GALAXY_IMPORTER := .cache/tools/galaxy-importer
galaxy-import: venv $(GALAXY_IMPORTER)/.installed
	$(PY) tests/galaxy_import.py
$(GALAXY_IMPORTER)/.installed: tests/galaxy_importer/requirements.txt
	$(PYTHON) -m venv $(GALAXY_IMPORTER)
	$(GALAXY_IMPORTER)/bin/pip install -q --disable-pip-version-check -r $<
	touch $@

# antsibull-docs lint-collection-docs, then the collection's Sphinx site with the guides of docs/*.md,
# offline and with warnings as errors; the HTML is in .cache/docsite/build/html.
docs: venv
	$(PY) tests/docsite.py

# Each prints ratios against a baseline measured in the same run; results in bench/results/.
bench: venv binaries
	$(PY) -m bench.lab_startup
	$(PY) -m bench.service_entries
	$(PY) -m bench.site
	$(PY) -m bench.fleet_plan

clean: lab-down
	rm -rf .cache .pytest_cache tests/output meshops-multicluster-*.tar.gz
