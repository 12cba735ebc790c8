"""The versions the collection supports: one home (module_utils/_preflight/versions.py), the same in
docs/variables.md, the lab's versions inside; preflight's warnings outside."""

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from ansible_collections.meshops.multicluster.plugins.module_utils._preflight.versions import (
    ISTIO_RANGE, KUBERNETES_RANGE, TESTED_ISTIO, TESTED_KUBERNETES, istio_warnings, kubernetes_warnings,
    minor_version, range_text, server_version)

REPO = Path(__file__).resolve().parents[5]


@pytest.mark.parametrize("version, minor", [
    ("1.31.0", (1, 31)), ("1.31-dev", (1, 31)), ("1.31-alpha.20260423", (1, 31)), ("v1.34.4", (1, 34)),
    ("v1.34.4+k3s1", (1, 34)), ("v1.33.5-eks-3025e55", (1, 33)), ("1.30", (1, 30)),
])
def test_the_minor_of_a_version(version, minor):
    assert minor_version(version) == minor


@pytest.mark.parametrize("version", ["", "1", "latest", "1.31.0\n", " 1.31.0", "1.x", "1.31.0 extra", None, 1.31])
def test_what_is_not_a_version(version):
    assert minor_version(version) is None


@given(st.text(max_size=30))
def test_any_text_has_a_minor_or_none_and_never_raises(text):
    minor = minor_version(text)
    assert minor is None or (len(minor) == 2 and all(isinstance(part, int) for part in minor))


@given(st.integers(0, 99), st.integers(0, 99), st.sampled_from(["", ".0", ".12", "-dev", "+k3s1", ".4-eks-1"]),
       st.booleans())
def test_a_release_string_gives_its_major_and_minor(major, minor, suffix, v):
    assert minor_version("%s%d.%d%s" % ("v" if v else "", major, minor, suffix)) == (major, minor)


def cluster(host, version):
    return {"host": host, "chart_version": version}


def test_a_supported_istio_version_gives_no_warning():
    assert istio_warnings([cluster("east", "1.31.0"), cluster("west", "1.30.4"), cluster("lab", "1.31-dev")]) == []


@pytest.mark.parametrize("version, why", [
    ("1.29.0", "past Istio's support: a minor is supported until six weeks after the next-but-one"),
    ("1.32.0", "newer than the collection is tested with"), ("2.0.0", "newer than the collection is tested with"),
    ("latest", "not an Istio version"),
])
def test_an_istio_version_outside_the_range_warns_once_naming_its_hosts(version, why):
    warnings = istio_warnings([cluster("east", version), cluster("west", version), cluster("north", "1.31.0")])
    assert warnings == ["mesh_istio_version=%r (east, west) is outside the Istio versions this collection supports, "
                        "1.30 to 1.31 (tested with 1.31): %s; see docs/variables.md, Supported versions"
                        % (version, why)]


def test_a_kubernetes_version_outside_the_range_warns_naming_the_cluster():
    warnings = kubernetes_warnings({"east": "v1.34.4", "west": "v1.31.9", "north": "v1.37.0", "south": None})
    assert warnings == [
        "west: Kubernetes v1.31.9 is outside the versions this collection supports, 1.32 to 1.36 (tested with "
        "1.34): older than Istio 1.30 to 1.31 support; see docs/variables.md, Supported versions",
        "north: Kubernetes v1.37.0 is outside the versions this collection supports, 1.32 to 1.36 (tested with "
        "1.34): newer than Istio 1.30 to 1.31 support; see docs/variables.md, Supported versions"]


def test_the_version_is_read_from_the_api_server():
    class Client:
        def request(self, method, path):
            assert (method, path) == ("GET", "/version")
            return {"gitVersion": "v1.34.4"}
    assert server_version(Client()) == "v1.34.4"


def test_the_lab_runs_versions_inside_the_ranges_it_is_tested_with():
    versions = tomllib.loads((REPO / "lab" / "versions.toml").read_text())
    assert minor_version(versions["istio"]["release"]) == minor_version(TESTED_ISTIO)
    assert minor_version(versions["kubernetes"]["version"]) == minor_version(TESTED_KUBERNETES)
    assert ISTIO_RANGE[0] <= minor_version(TESTED_ISTIO) <= ISTIO_RANGE[1]
    assert KUBERNETES_RANGE[0] <= minor_version(TESTED_KUBERNETES) <= KUBERNETES_RANGE[1]


def test_the_default_istio_version_is_supported():
    defaults = (REPO / "roles" / "preflight" / "defaults" / "main.yml").read_text()
    default = re.search(r'^mesh_istio_version: "([^"]+)"$', defaults, re.M).group(1)
    assert istio_warnings([cluster("default", default)]) == []
    assert minor_version(default) == minor_version(TESTED_ISTIO)


def test_docs_state_the_ranges_and_the_tested_versions():
    section = (REPO / "docs" / "variables.md").read_text().split("## Supported versions", 1)[1].split("\n## ", 1)[0]
    ansible_core = re.search(r'^ansible-core==(\S+)$', (REPO / "requirements-dev.txt").read_text(), re.M).group(1)
    requires = re.search(r'^requires_ansible: "(.+)"$', (REPO / "meta" / "runtime.yml").read_text(), re.M).group(1)
    for row in ("| Istio | %s | %s |" % (TESTED_ISTIO, range_text(ISTIO_RANGE)),
                "| Kubernetes | %s | %s |" % (TESTED_KUBERNETES, range_text(KUBERNETES_RANGE)),
                "| ansible-core | %s | `%s` |" % (ansible_core, requires)):
        assert row in section, row
