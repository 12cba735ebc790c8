"""meta/execution-environment.yml: a valid ansible-builder v3 definition whose dependency files, named
relative to the collection root, are found both by a build and by the introspection of another
execution environment that installs this collection."""

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import yaml
from ansible_builder._target_scripts.introspect import process

REPO = Path(__file__).resolve().parents[2]
DEFINITION = REPO / "meta" / "execution-environment.yml"
DEPENDENCY_FILES = ("requirements.txt", "bindep.txt", "requirements.yml")


def test_the_definition_names_the_collection_root_files():
    definition = yaml.safe_load(DEFINITION.read_text())
    assert definition["version"] == 3
    deps = definition["dependencies"]
    assert (deps["python"], deps["system"], deps["galaxy"]) == DEPENDENCY_FILES
    for name in DEPENDENCY_FILES:
        assert (REPO / name).is_file(), name
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    required = {c["name"]: c.get("version") for c in yaml.safe_load((REPO / "requirements.yml").read_text())["collections"]}
    assert required == galaxy["dependencies"]


def test_ansible_builder_creates_the_build_context(tmp_path):
    source = tmp_path / "collection"
    source.mkdir()
    shutil.copy(DEFINITION, source / "execution-environment.yml")
    for name in DEPENDENCY_FILES:
        shutil.copy(REPO / name, source / name)
    context = tmp_path / "context"
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-builder"), "create", "-f",
                           str(source / "execution-environment.yml"), "--context", str(context)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in DEPENDENCY_FILES:
        assert (context / "_build" / name).read_text() == (REPO / name).read_text()
    containerfile = (context / "Dockerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="ghcr.io/ansible-community/community-ee-base:latest"' in containerfile
    assert "ansible-galaxy collection install" in containerfile
    assert "--user-pip=requirements.txt" in containerfile and "--user-bindep=bindep.txt" in containerfile
    assert re.search(r"RUN arch=.*helm-\$\{HELM_VERSION\}-linux.*sha256sum -c - .*helm version", containerfile)


def test_helm_is_the_version_the_lab_is_tested_with():
    lab = tomllib.loads((REPO / "lab" / "versions.toml").read_text())["helm"]["version"]
    steps = yaml.safe_load(DEFINITION.read_text())["additional_build_steps"]["append_final"]
    assert "ARG HELM_VERSION=%s" % lab in steps


def test_another_execution_environment_finds_the_requirements_of_this_collection():
    # What ansible-builder runs in the image of an execution environment that installs this
    # collection (tests/conftest.py links the repository at .cache/collections).
    found = process(data_dir=str(REPO / ".cache" / "collections"))
    assert "kubernetes==37.0.2" in found["python"]["meshops.multicluster"]
    assert found["system"]["meshops.multicluster"] == [
        line for line in (REPO / "bindep.txt").read_text().splitlines() if line and not line.startswith("#")]
