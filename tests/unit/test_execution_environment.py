"""The execution environment: meta/execution-environment.yml (what another execution environment that
installs this collection reads) and execution-environment/execution-environment.yml (this collection's
own) name the same dependency files, one home each; ansible-builder accepts the definition as it is;
the base image and helm are pinned; requirements.txt holds ranges, requirements-dev.txt their pins."""

import re
import subprocess
import tomllib
from pathlib import Path

import yaml
from ansible_builder._target_scripts.introspect import process
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
METADATA = REPO / "meta" / "execution-environment.yml"
DEFINITION = REPO / "execution-environment" / "execution-environment.yml"
DEPENDENCY_FILES = {"python": "requirements.txt", "system": "bindep.txt", "galaxy": "requirements.yml"}
# The release notes of helm v3.19.5 (https://github.com/helm/helm/releases/tag/v3.19.5).
HELM_SHA256 = {"AMD64": "a0a5e8c592ed3f376ac110715eff214730c7422f9a44d96cf98117d2b8b0e6c0",
               "ARM64": "ce02147ffee6d993bf8ae97a44a22e9e1daf0b69d2d5b69a0c8cf6706445ccf5"}


def definition():
    return yaml.safe_load(DEFINITION.read_text())


def requirement_lines(path):
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith(("#", "-"))]


def test_the_collection_metadata_names_the_files_at_the_collection_root():
    # ansible-builder's introspection takes them relative to the collection root.
    dependencies = yaml.safe_load(METADATA.read_text())["dependencies"]
    assert dependencies == {"python": "requirements.txt", "system": "bindep.txt"}
    assert all((REPO / name).is_file() for name in dependencies.values())


def test_the_build_definition_names_the_same_files():
    # ansible-builder takes them relative to the definition file.
    dependencies = definition()["dependencies"]
    for entry, name in DEPENDENCY_FILES.items():
        assert (DEFINITION.parent / dependencies[entry]).resolve() == REPO / name, entry
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    required = {c["name"]: c.get("version") for c in yaml.safe_load((REPO / "requirements.yml").read_text())["collections"]}
    assert required == galaxy["dependencies"]


def test_the_base_image_is_pinned():
    image = definition()["images"]["base_image"]["name"]
    assert re.fullmatch(r"[\w.\-/]+:\d+\.\d+\.\d+-\d+(@sha256:[0-9a-f]{64})?", image), image


def test_ansible_builder_creates_the_build_context_from_the_definition_as_it_is(tmp_path):
    context = tmp_path / "context"
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-builder"), "create", "-f", str(DEFINITION),
                           "--context", str(context), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in DEPENDENCY_FILES.values():
        assert (context / "_build" / name).read_text() == (REPO / name).read_text()
    containerfile = (context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="%s"' % definition()["images"]["base_image"]["name"] in containerfile
    assert "ansible-galaxy collection install" in containerfile
    assert "--user-pip=requirements.txt" in containerfile and "--user-bindep=bindep.txt" in containerfile
    for arch, digest in HELM_SHA256.items():
        assert "ARG HELM_SHA256_%s=%s\n" % (arch, digest) in containerfile
    # The checksum checked is the one in the definition, not one fetched beside the download.
    assert 'echo "$sum  /tmp/helm.tar.gz" | sha256sum -c -' in containerfile
    assert ".sha256sum" not in containerfile


def test_helm_is_the_version_the_lab_is_tested_with():
    lab = tomllib.loads((REPO / "lab" / "versions.toml").read_text())["helm"]["version"]
    assert "ARG HELM_VERSION=%s" % lab in definition()["additional_build_steps"]["append_final"]


def test_another_execution_environment_finds_the_requirements_of_this_collection():
    # What ansible-builder runs in the image of an execution environment that installs this
    # collection (tests/conftest.py links the repository at .cache/collections).
    found = process(data_dir=str(REPO / ".cache" / "collections"))
    assert found["python"]["meshops.multicluster"] == requirement_lines(REPO / "requirements.txt")
    assert found["system"]["meshops.multicluster"] == requirement_lines(REPO / "bindep.txt")


def test_requirements_are_ranges_and_the_tests_pin_a_version_inside_each():
    pins = {}
    for line in requirement_lines(REPO / "requirements-dev.txt"):
        requirement = Requirement(line)
        pins[requirement.name.lower()] = next(iter(requirement.specifier)).version
    for line in requirement_lines(REPO / "requirements.txt"):
        requirement = Requirement(line)
        operators = {spec.operator for spec in requirement.specifier}
        assert ">=" in operators and operators <= {">=", "<"}, "%s: a lower bound (and at most an upper one) expected" % line
        assert requirement.specifier.contains(pins[requirement.name.lower()]), line
    assert "ansible-core" not in {Requirement(line).name for line in requirement_lines(REPO / "requirements.txt")}
