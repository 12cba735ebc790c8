"""The documented defaults of the mesh's names are those of their one home, mesh_names.

YAML cannot import: module documentation (doc fragments included), the filter's documentation and the
roles' defaults state the names again. This test holds every such statement to the constant.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.meshops.multicluster.plugins.module_utils._common import mesh_names as names
from lab.config import collection_on_path

REPO = Path(__file__).resolve().parents[4]
COLLECTION = "meshops.multicluster"
PLUGINS = [("module", path.stem) for path in sorted((REPO / "plugins" / "modules").glob("*.py"))] + [("filter", "rbac_objects")]

# Option name -> the default every module (or filter) that has the option documents.
SHARED_OPTIONS = {
    "namespace": names.ISTIO_NAMESPACE,
    "istio_namespace": names.ISTIO_NAMESPACE,
    "mesh_namespace": names.ISTIO_NAMESPACE,
    "gateway_service": names.GATEWAY,
    "gateway": names.GATEWAY,
    "service": names.GATEWAY,
    # mesh_check's default follows the revision the cluster's default tag serves: none documented.
    "deployments": [names.GATEWAY],
    "gateway_port": names.GATEWAY_PORT,
    "zone": names.ZONE,
}
# Options of one meaning that a generic name (name) cannot tell apart: (plugin, option) -> default.
NAMED_OPTIONS = {
    ("ca_intermediate", "name"): names.CACERTS,
    ("ca_intermediate_info", "name"): names.CACERTS,
}
# Role variables that state the same names: (role, variable) -> default.
ROLE_DEFAULTS = {
    ("preflight", "mesh_istio_namespace"): names.ISTIO_NAMESPACE,
    ("preflight", "mesh_istio_gateway_name"): names.GATEWAY,
    ("services", "mesh_services_namespace"): names.ISTIO_NAMESPACE,
}


@pytest.fixture(scope="module")
def docs():
    """plugin name -> its documentation as ansible-doc shows it (doc fragments merged)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collection_on_path()))
    found = {}
    for kind in sorted({kind for kind, _name in PLUGINS}):
        names_of_kind = ["%s.%s" % (COLLECTION, name) for plugin_kind, name in PLUGINS if plugin_kind == kind]
        shown = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-t", kind, "--json", *names_of_kind],
                               capture_output=True, text=True, env=env, cwd=REPO, check=True)
        found.update({name.rpartition(".")[2]: entry["doc"] for name, entry in json.loads(shown.stdout).items()})
    assert sorted(found) == sorted(name for _kind, name in PLUGINS)
    return found


def documented_options(doc):
    """(option path, option) of a plugin's documentation, suboptions included."""
    def walk(options, prefix=""):
        for name, option in (options or {}).items():
            yield prefix + name, option
            yield from walk(option.get("suboptions"), prefix + name + ".")
    return list(walk(doc["options"]))


@pytest.mark.parametrize("plugin", [name for _kind, name in PLUGINS])
def test_documented_defaults_of_the_mesh_names_are_mesh_names(docs, plugin):
    wrong = {}
    for option_path, option in documented_options(docs[plugin]):
        leaf = option_path.rpartition(".")[2]
        expected = NAMED_OPTIONS.get((plugin, leaf), SHARED_OPTIONS.get(leaf))
        if expected is not None and "default" in option and option["default"] != expected:
            wrong[option_path] = (option["default"], expected)
    assert wrong == {}, "documented default != mesh_names (documented, mesh_names)"


def test_every_shared_option_is_documented_somewhere(docs):
    """The tables name options that exist: a renamed option cannot slip out of the check."""
    found = {(plugin, name.rpartition(".")[2]): option.get("default")
             for plugin, doc in docs.items() for name, option in documented_options(doc)}
    assert set(NAMED_OPTIONS) <= set(found)
    assert {leaf for _plugin, leaf in found} >= set(SHARED_OPTIONS)
    assert found[("mesh_check", "namespace")] == names.ISTIO_NAMESPACE  # from the fragment mesh.namespace


@pytest.mark.parametrize("role, variable", sorted(ROLE_DEFAULTS))
def test_role_defaults_of_the_mesh_names_are_mesh_names(role, variable):
    defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    assert defaults[variable] == ROLE_DEFAULTS[(role, variable)]
    assert specs["argument_specs"]["main"]["options"][variable]["default"] == ROLE_DEFAULTS[(role, variable)]


def test_the_fragment_states_the_mesh_names():
    from ansible_collections.meshops.multicluster.plugins.doc_fragments.mesh import ModuleDocFragment

    options = {}
    for text in (ModuleDocFragment.NAMESPACE, ModuleDocFragment.GATEWAY_SERVICE):
        options.update(yaml.safe_load(text)["options"])
    assert {name: option["default"] for name, option in options.items()} == {
        "namespace": names.ISTIO_NAMESPACE, "gateway_service": names.GATEWAY}
