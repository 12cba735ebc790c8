"""Sphinx extension for `make docs` (tests/docsite.py): the docsite builds offline.

antsibull-docs' pages refer to a few labels of Ansible's own documentation and to other collections'
plugins, which Sphinx resolves through intersphinx inventories it downloads. The build fetches
nothing, so this resolves exactly those references to their pages on docs.ansible.com. Every other
unresolved reference - one of this collection's labels above all - stays a warning, and `-W` fails
the build.
"""

from __future__ import annotations

import re

from docutils import nodes

ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/latest/"
# Labels of Ansible's documentation that antsibull-docs' templates use: label -> (page, title).
ANSIBLE_LABELS = {
    "common_return_values": ("reference_appendices/common_return_values.html", "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html", "Ansible Configuration Settings"),
    "callback_plugins": ("plugins/callback.html", "Callback plugins"),
    "action_plugins": ("plugins/action.html", "Action plugins"),
}
# ansible-core's configuration variables, documented on its configuration page.
ANSIBLE_ENVVAR = re.compile(r"ANSIBLE_[A-Z0-9_]+")
OUR_LABELS = "ansible_collections.meshops.multicluster."
# Another collection's plugin page: ansible_collections.<namespace>.<name>.<plugin>_<type> (k8s_module).
OTHER_PLUGIN = re.compile(r"ansible_collections\.(\w+)\.(\w+)\.(\w+)_([a-z]+)")


def ansible_docs_target(reftype: str, target: str) -> tuple[str, str] | None:
    """(URL, title) of a reference into docs.ansible.com, or None for any other target."""
    if reftype == "ref" and target in ANSIBLE_LABELS:
        page, title = ANSIBLE_LABELS[target]
        return ANSIBLE_DOCS + page, title
    if reftype == "envvar" and ANSIBLE_ENVVAR.fullmatch(target):
        return f"{ANSIBLE_DOCS}reference_appendices/config.html#envvar-{target}", target
    plugin = OTHER_PLUGIN.fullmatch(target) if reftype == "ref" else None
    if plugin and not target.startswith(OUR_LABELS):
        namespace, name, plugin_name, plugin_type = plugin.groups()
        return (f"{ANSIBLE_DOCS}collections/{namespace}/{name}/{plugin_name}_{plugin_type}.html",
                f"{namespace}.{name}.{plugin_name} {plugin_type}")
    return None


def resolve_ansible_docs(app, env, node, contnode):
    found = ansible_docs_target(node.get("reftype", ""), node.get("reftarget", ""))
    if found is None:
        return None
    url, title = found
    text = contnode.astext()
    label = title if text == node["reftarget"] else text
    return nodes.reference("", label, refuri=url, internal=False)


def setup(app):
    app.connect("missing-reference", resolve_ansible_docs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
