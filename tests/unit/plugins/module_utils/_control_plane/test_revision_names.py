"""Revision names: derived from versions, checked as DNS labels, and the object names Istio's charts give them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import (
    istiod_name, mesh_config_name, revision_of_version, revision_problem, tag_webhook_name, values_configmap_name)


@pytest.mark.parametrize("version, revision", [("1.31.0", "1-31-0"), ("1.31-dev", "1-31-dev"), (" 1.30.2 ", "1-30-2"),
                                               ("1.31.0-beta.1", "1-31-0-beta-1"), ("V1.31", "v1-31")])
def test_a_version_gives_its_revision(version, revision):
    assert revision_of_version(version) == revision
    assert revision_problem(revision) is None


@settings(max_examples=200, derandomize=True)
@given(st.text(alphabet="0123456789.-abcdefXYZ_+ ", min_size=1, max_size=80))
def test_any_version_with_a_letter_or_digit_gives_a_valid_revision(version):
    revision = revision_of_version(version)
    if any(c.isalnum() for c in version) and revision not in ("default",):
        assert revision_problem(revision) is None, (version, revision)


@pytest.mark.parametrize("value", ["1.31.0", "", "-a", "a-", "A", "a_b", "default", "a" * 57, "1-31\n", None, 131])
def test_what_is_not_a_revision_is_said(value):
    assert revision_problem(value)


def test_names_of_a_revision_and_of_the_install_without_one():
    assert istiod_name("1-31-0") == "istiod-1-31-0" and istiod_name("default") == "istiod" == istiod_name("")
    assert mesh_config_name("1-31-0") == "istio-1-31-0" and values_configmap_name("default") == "values"
    assert tag_webhook_name("stable", "istio-system") == "istio-revision-tag-stable"
    assert tag_webhook_name("default", "mesh") == "istio-revision-tag-default-mesh"
