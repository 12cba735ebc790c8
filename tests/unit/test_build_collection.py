"""What the tarball must (not) ship: the patterns of tests/build_collection.py."""

import pytest

from tests.build_collection import MUST_SHIP, shipped_by_mistake


@pytest.mark.parametrize("name", ["lab", "lab/cli.py", ".lab-test2/kubeconfig", "tests/conftest.py", "tests/sanity.py",
                                  "tests/unit/fake_api.py", "tests/integration/labtools.py", "ansible.cfg",
                                  "inventory/lab/hosts.yml", "changelogs/fragments/x.yml",
                                  "plugins/filter/__pycache__", "plugins/filter/__pycache__/x.cpython-311.pyc"])
def test_what_needs_the_repository_is_refused(name):
    assert shipped_by_mistake(name)


@pytest.mark.parametrize("name", [*MUST_SHIP, "tests", "tests/sanity/ignore-2.19.txt", "playbooks/labels.yml",
                                  "docs/operations.md", "inventory/example/group_vars/mesh_clusters.yml"])
def test_what_users_need_is_shipped(name):
    assert not shipped_by_mistake(name)
