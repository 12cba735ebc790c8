"""The documentation a user works from: every module's return values have samples, its seealso names the
related modules and the guides, its examples are one list of tasks to copy (no play: ansible-lint, which
galaxy-importer runs on them, reads them as one document; at least two calls, only documented options,
module_defaults of group k8s on a block where the module talks to a cluster), and every plugin says it came with 1.0.0,
the first release.

Pure: the doc strings are read from the source files (ast) and parsed with yaml, doc fragments merged by hand;
nothing is imported or run.
"""

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[4]
COLLECTION = "meshops.multicluster"
FIRST_RELEASE = "1.0.0"
NEXT_RELEASE = "1.1.0"
GUIDE_LABEL = "ansible_collections.meshops.multicluster.docsite."
K8S_GROUP = "group/%s.k8s" % COLLECTION
MODULES = sorted(path.stem for path in (REPO / "plugins" / "modules").glob("*.py") if path.stem != "__init__")
PLUGINS = sorted(path.relative_to(REPO / "plugins").as_posix()
                 for kind in ("modules", "callback", "filter", "inventory")
                 for path in (REPO / "plugins" / kind).glob("*.py") if path.stem != "__init__")


def doc_strings(path):
    """{DOCUMENTATION, EXAMPLES, RETURN, ...: text} - the string constants a plugin file assigns at module
    level, or that a doc fragment's class assigns."""
    found = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            found.update({target.id: node.value.value for target in node.targets if isinstance(target, ast.Name)})
    return found


def fragment_options(name):
    """Options of a doc fragment of this collection, e.g. meshops.multicluster.mesh.namespace."""
    if not name.startswith(COLLECTION + "."):
        return {}
    file_name, _dot, variable = name[len(COLLECTION) + 1:].partition(".")
    text = doc_strings(REPO / "plugins" / "doc_fragments" / (file_name + ".py"))[(variable or "documentation").upper()]
    return (yaml.safe_load(text) or {}).get("options") or {}


def module_doc(name):
    strings = doc_strings(REPO / "plugins" / "modules" / (name + ".py"))
    return (yaml.safe_load(strings["DOCUMENTATION"]), list(yaml.safe_load_all(strings["EXAMPLES"])),
            yaml.safe_load(strings["RETURN"]) or {})


def documented_names(doc):
    """Option names and aliases a module takes, doc fragments included."""
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment") or []:
        options.update(fragment_options(fragment))
    return {alias for name, option in options.items() for alias in [name] + list(option.get("aliases") or [])}


def calls(node, fqcn):
    """The arguments of every task of the examples (blocks, loops included) that calls fqcn."""
    if isinstance(node, dict):
        if fqcn in node:
            yield node[fqcn] or {}
        for key, value in node.items():
            if key != "module_defaults":
                yield from calls(value, fqcn)
    elif isinstance(node, list):
        for item in node:
            yield from calls(item, fqcn)


def return_leaves(values, prefix=""):
    """(path, entry) of every return value without contains, nested ones included."""
    for name, entry in values.items():
        if entry.get("contains"):
            yield from return_leaves(entry["contains"], prefix + name + ".")
        else:
            yield prefix + name, entry


def k8s_group():
    # The group also holds a metadata entry (extend_group: kubernetes.core.k8s): only names are modules.
    return {entry for entry in yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["action_groups"]["k8s"]
            if isinstance(entry, str)}


def version(text):
    return tuple(int(part) for part in str(text).split("."))


def test_every_module_is_found():
    assert len(MODULES) >= 15
    assert set(k8s_group()) <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_every_return_value_has_a_sample(module):
    _doc, _examples, returns = module_doc(module)
    assert returns, "no RETURN"
    assert [path for path, entry in return_leaves(returns) if "sample" not in entry] == []


@pytest.mark.parametrize("module", MODULES)
def test_seealso_names_related_modules_and_guides(module):
    doc, _examples, _returns = module_doc(module)
    seealso = doc.get("seealso") or []
    ours = [entry["module"] for entry in seealso if str(entry.get("module", "")).startswith(COLLECTION + ".")]
    guides = [entry for entry in seealso if "ref" in entry]
    assert ours, "no related module of the collection"
    assert {name.rpartition(".")[2] for name in ours} <= set(MODULES) - {module}
    assert guides, "no guide"
    for guide in guides:
        assert guide["ref"].startswith(GUIDE_LABEL) and guide.get("description"), guide
        assert (REPO / "docs" / (guide["ref"][len(GUIDE_LABEL):] + ".md")).is_file(), guide["ref"]


@pytest.mark.parametrize("module", MODULES)
def test_examples_call_the_module_at_least_twice_with_documented_options(module):
    doc, examples, _returns = module_doc(module)
    fqcn = "%s.%s" % (COLLECTION, module)
    found = list(calls(examples, fqcn))
    assert len(found) >= 2, "fewer than two examples of %s" % fqcn
    options = documented_names(doc)
    assert [sorted(set(args) - options) for args in found if set(args) - options] == []


@pytest.mark.parametrize("module", MODULES)
def test_examples_are_one_list_of_tasks(module):
    # A play (hosts:) followed by tasks is not a playbook nor a task file: ansible-lint's schema check fails.
    _doc, examples, _returns = module_doc(module)
    assert len(examples) == 1, "EXAMPLES holds %d YAML documents, not one" % len(examples)
    tasks = examples[0]
    assert isinstance(tasks, list) and tasks and all(isinstance(task, dict) for task in tasks)
    assert [task.get("name") for task in tasks if {"hosts", "tasks", "import_playbook"} & set(task)] == []


@pytest.mark.parametrize("module", sorted(k8s_group()))
def test_examples_of_cluster_modules_show_the_k8s_module_defaults(module):
    _doc, examples, _returns = module_doc(module)
    defaults = [task["module_defaults"] for task in examples[0] if isinstance(task, dict) and "module_defaults" in task]
    assert any(K8S_GROUP in entry for entry in defaults), "no task with module_defaults %s" % K8S_GROUP


@pytest.mark.parametrize("plugin", PLUGINS)
def test_every_plugin_came_with_the_first_release(plugin):
    """Or with a later one (new plugins: the next release, NEXT_RELEASE); no option older than the plugin's first."""
    strings = doc_strings(REPO / "plugins" / plugin)
    doc = yaml.safe_load(strings["DOCUMENTATION"])
    assert str(doc["version_added"]) in (FIRST_RELEASE, NEXT_RELEASE)

    def options(values):
        for name, option in (values or {}).items():
            yield name, option
            yield from options(option.get("suboptions"))
    older = {name: option["version_added"] for name, option in options(doc.get("options"))
             if "version_added" in option and version(option["version_added"]) < version(FIRST_RELEASE)}
    assert older == {}


@pytest.mark.parametrize("plugin", PLUGINS)
def test_examples_and_return_parse_as_yaml(plugin):
    strings = doc_strings(REPO / "plugins" / plugin)
    for name in ("EXAMPLES", "RETURN"):
        if name in strings:
            list(yaml.safe_load_all(strings[name]))
