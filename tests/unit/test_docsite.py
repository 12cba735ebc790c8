import pytest

from tests.docsite import GUIDES, guide_to_rst, unlisted_guides
from tests.docsite_offline import ansible_docs_target

PREFIX = "ansible_collections.meshops.multicluster.docsite."
GUIDE = """\
# Moving a cluster

See [the rotation guide](operations-rotate.md), [permissions.md](permissions.md),
[rollouts](operations.md#rollouts) and [below](#after-the-move).

## After the move

```
plain text
```
"""


@pytest.fixture
def guide(tmp_path):
    path = tmp_path / "moving.md"
    path.write_text(GUIDE)
    return path


def test_a_guide_has_its_label_and_each_heading_one_below_it(guide):
    rst = guide_to_rst(guide)
    assert f".. _{PREFIX}moving:\n\nMoving a cluster\n====" in rst
    assert f".. _{PREFIX}moving.after-the-move:\n\nAfter the move\n----" in rst


def test_links_between_guides_are_refs_to_their_labels(guide):
    rst = guide_to_rst(guide)
    assert f":ref:`the rotation guide <{PREFIX}operations-rotate>`" in rst
    assert f":ref:`{PREFIX}permissions`" in rst  # a link that reads as a file name shows the page title
    assert f":ref:`rollouts <{PREFIX}operations.rollouts>`" in rst
    assert f":ref:`below <{PREFIX}moving.after-the-move>`" in rst


def test_a_fence_without_a_language_stays_plain_text(guide):
    assert ".. code:: text\n\n   plain text" in guide_to_rst(guide)


def test_a_link_to_a_repository_file_is_refused(tmp_path):
    path = tmp_path / "bad.md"
    path.write_text("# Bad\n\nRun [site](../playbooks/site.yml).\n")
    with pytest.raises(RuntimeError, match=r"link to \.\./playbooks/site\.yml has no place on the docsite"):
        guide_to_rst(path)


def test_every_guide_is_on_the_docsite():
    assert unlisted_guides(sorted(path.stem for path in GUIDES.glob("*.md"))) == []


@pytest.mark.parametrize(("reftype", "target", "url"), [
    ("ref", "common_return_values",
     "https://docs.ansible.com/projects/ansible/latest/reference_appendices/common_return_values.html"),
    ("envvar", "ANSIBLE_CALLBACKS_ENABLED",
     "https://docs.ansible.com/projects/ansible/latest/reference_appendices/config.html#envvar-ANSIBLE_CALLBACKS_ENABLED"),
    ("ref", "ansible_collections.kubernetes.core.k8s_module",
     "https://docs.ansible.com/projects/ansible/latest/collections/kubernetes/core/k8s_module.html"),
])
def test_references_into_ansible_docs_link_there(reftype, target, url):
    assert ansible_docs_target(reftype, target)[0] == url


@pytest.mark.parametrize(("reftype", "target"), [
    ("ref", f"{PREFIX}services"),  # ours: unresolved means broken, and -W fails the build
    ("ref", "ansible_collections.meshops.multicluster.service_entry_module"),
    ("ref", "no_such_label"),
    ("envvar", "K8S_AUTH_KUBECONFIG"),
])
def test_every_other_unresolved_reference_stays_a_warning(reftype, target):
    assert ansible_docs_target(reftype, target) is None
