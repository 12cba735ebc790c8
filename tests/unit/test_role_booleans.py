"""Role variables that are booleans are read as booleans (issue #20, finding 8).

`-e mesh_x=false` on the command line is the string "false". A role's argument_specs accept it
(and refuse "maybe") but do not convert it: the role reads the raw value, and a bare string is
true in Jinja (`mesh_x or ...`, `when: mesh_x` on ansible-core 2.17/2.18). So every read of a
variable the argument_specs type as bool must be `| bool`, or the whole value of a module option
of type bool (the module converts it). This test finds every read in roles/ and playbooks/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COLLECTION = "meshops.multicluster."
# Keys whose string values Ansible evaluates as Jinja expressions without braces.
CONDITIONALS = {"when", "that", "failed_when", "changed_when", "until"}


def bool_variables():
    names = set()
    for spec in REPO.glob("roles/*/meta/argument_specs.yml"):
        for entry in (yaml.safe_load(spec.read_text())["argument_specs"] or {}).values():
            names |= {name for name, option in (entry.get("options") or {}).items() if option.get("type") == "bool"}
    return names


def module_bool_options(module):
    """Options of type bool of one of the collection's modules (from its DOCUMENTATION)."""
    source = (REPO / "plugins" / "modules" / (module[len(COLLECTION):] + ".py")).read_text()
    doc = yaml.safe_load(re.search(r'DOCUMENTATION = r"""(.*?)"""', source, re.S).group(1))
    return {name for name, option in (doc.get("options") or {}).items() if option.get("type") == "bool"}


def strings(node, key=None, module=None):
    """(key, string, module of the task) of every string value in a task file, recursively."""
    if isinstance(node, dict):
        task_module = next((k for k in node if isinstance(k, str) and k.startswith(COLLECTION)), None)
        for k, value in node.items():
            yield from strings(value, k, task_module if k == task_module else module)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item, key, module)
    elif isinstance(node, str):
        yield key, node, module


def expressions(key, text):
    """The Jinja expressions of a value: all of a conditional, else what is inside {{ }} and {% %}."""
    if key in CONDITIONALS:
        return [text]
    return [a or b for a, b in re.findall(r"\{\{(.*?)\}\}|\{%(.*?)%\}", text, re.S)]


def unconverted_reads(key, text, module, variables):
    """The variables of `variables` that `text` reads without converting them to a boolean."""
    whole_option = module and key in module_bool_options(module) and text.strip()
    bad = []
    for expression in expressions(key, text):
        for name in variables:
            for match in re.finditer(r"(?<![\w.'\"])%s(?!\w)" % name, expression):
                if re.match(r"\s*(\|\s*default\([^()]*\)\s*)?\|\s*bool\b", expression[match.end():]):
                    continue
                if whole_option == "{{ %s }}" % name:  # the module converts it
                    continue
                bad.append(name)
    return bad


def files():
    return sorted(list(REPO.glob("roles/*/tasks/*.yml")) + list(REPO.glob("roles/*/vars/*.yml"))
                  + list(REPO.glob("roles/*/handlers/*.yml")) + list(REPO.glob("playbooks/*.yml")))


def test_role_booleans_are_found():
    assert {"mesh_ca_allow_new_root", "mesh_verify_fail", "mesh_preflight_check_permissions"} <= bool_variables()


@pytest.mark.parametrize("path", files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_read_of_a_boolean_variable_converts_it(path):
    variables = bool_variables()
    bad = [(key, text.strip(), names) for key, text, module in strings(yaml.safe_load(path.read_text()))
           for names in [unconverted_reads(key, text, module, variables)] if names]
    assert not bad, "read without | bool (a string 'false' would be true): %s" % bad


@pytest.mark.parametrize("path", sorted(REPO.glob("roles/*/templates/*.j2")), ids=lambda p: p.name)
def test_templates_convert_boolean_variables(path):
    text = path.read_text()
    assert not unconverted_reads(None, text, None, bool_variables())


@pytest.mark.parametrize("text, bad", [
    ("mesh_ca_allow_new_root or mesh_ca_holders | length == 0", ["mesh_ca_allow_new_root"]),
    ("mesh_ca_allow_new_root | bool or x", []),
    ("mesh_verify_fail | default(false) | bool", []),
    ("{{ mesh_ca_force_reissue or phase == 'intermediates' }}", ["mesh_ca_force_reissue"]),
])
def test_the_scan_sees_a_bare_read(text, bad):
    known = {"mesh_ca_allow_new_root", "mesh_verify_fail", "mesh_ca_force_reissue"}
    assert unconverted_reads("that", text, None, known) == bad
