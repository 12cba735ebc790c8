# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: kubeconfig_contexts
short_description: One host per Kubernetes cluster, from the contexts of kubeconfig files
version_added: 1.0.0
description:
  - Makes every context of one or more kubeconfig files a host of the group O(group) (C(mesh_clusters)),
    the inventory the roles and playbooks of meshops.multicluster expect.
  - The host's name is its mesh cluster name. It gets C(mesh_cluster_name), C(mesh_kubeconfig) (the file),
    C(mesh_context) (the context), C(ansible_connection=local) and
    C(ansible_python_interpreter={{ ansible_playbook_python }}), so that every task talks to the
    cluster's API from the controller.
  - What the plugin reads from kubeconfig files (context names, and the variables made of them) is
    marked unsafe, so Ansible never templates it.
  - Fails, listing every problem at once, when a kubeconfig cannot be read, a cluster name is not a
    DNS-1123 label, or two contexts give the same cluster name.
  - The configuration file's name must end with C(kubeconfig_contexts.yml) or C(kubeconfig_contexts.yaml)
    (C(fleet.kubeconfig_contexts.yml) works too), and its O(plugin) must name this plugin.
  - C(group_vars/) and C(host_vars/) beside the configuration file apply as usual; O(host_vars),
    O(compose), O(groups) and O(keyed_groups) set variables and groups in the file itself.
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    required: true
    choices: [meshops.multicluster.kubeconfig_contexts]
  kubeconfigs:
    description:
      - Kubeconfig files to read, in order. Relative paths are relative to the current directory.
      - The environment variable is a list separated by colons, like C(KUBECONFIG).
    type: pathspec
    default: [~/.kube/config]
    env:
      - name: K8S_AUTH_KUBECONFIG
  include:
    description:
      - Patterns on context names; only matching contexts become hosts. Empty for all.
      - A pattern starting with C(~) is a regular expression matched from the start of the name (as in
        Ansible host patterns); any other is a shell glob (C(prod-*)).
    type: list
    elements: str
    default: []
  exclude:
    description: Patterns (as in O(include)) on context names; matching contexts are left out.
    type: list
    elements: str
    default: []
  cluster_names:
    description:
      - Mesh cluster name (a DNS-1123 label) by context name, for contexts whose names are not fit.
      - Other contexts are named after themselves (see O(sanitize_names)).
    type: dict
    default: {}
  sanitize_names:
    description:
      - Make a DNS-1123 label of context names that are not one (lowercase, every run of other
        characters becomes C(-), at most 63 characters), so that
        C(arn:aws:eks:eu-west-1:111122223333:cluster/prod) becomes C(arn-aws-eks-eu-west-1-111122223333-cluster-prod).
      - When false, such a context is an error naming it.
    type: bool
    default: false
  group:
    description: The group of the hosts.
    type: str
    default: mesh_clusters
  host_vars:
    description:
      - Variables of single hosts, by mesh cluster name (C(mesh_network), C(mesh_locality), ...).
      - They may override C(ansible_connection) and C(ansible_python_interpreter), not the C(mesh_*) variables
        the plugin sets. A name that is not a host of the inventory is a warning.
    type: dict
    default: {}
extends_documentation_fragment:
  - constructed
seealso:
  - module: meshops.multicluster.mesh_preflight
  - ref: ansible_collections.meshops.multicluster.docsite.quickstart
    description: Describing the fleet - an inventory from kubeconfig contexts.
  - ref: ansible_collections.meshops.multicluster.docsite.variables
    description: The host variables (C(mesh_network), C(mesh_locality), ...) the roles read.
"""

EXAMPLES = r"""
# fleet/kubeconfig_contexts.yml: every context of ~/.kube/config is a cluster of the mesh
plugin: meshops.multicluster.kubeconfig_contexts

---
# fleet/kubeconfig_contexts.yml: the production clusters of two files
plugin: meshops.multicluster.kubeconfig_contexts
kubeconfigs:
  - ~/.kube/eks.yaml
  - ~/.kube/gke.yaml
include:
  - "arn:aws:eks:*:cluster/prod-*"
  - "~gke_.*_prod-"
exclude:
  - "*-canary"
cluster_names:
  "arn:aws:eks:eu-west-1:111122223333:cluster/prod-east": east
  "arn:aws:eks:us-west-2:111122223333:cluster/prod-west": west
# gke_acme_europe-west3_prod-central becomes gke-acme-europe-west3-prod-central
sanitize_names: true
host_vars:
  east:
    mesh_locality: eu-west-1
  west:
    mesh_locality: us-west-2
compose:
  mesh_network: "'net-' ~ mesh_cluster_name"
keyed_groups:
  # groups kubeconfig_eks and kubeconfig_gke
  - prefix: kubeconfig
    key: mesh_kubeconfig | basename | splitext | first

---
# The kubeconfigs from the environment (AWX custom credential; several files separated by colons):
#   K8S_AUTH_KUBECONFIG=~/.kube/east:~/.kube/west ansible-inventory -i kubeconfig_contexts.yml --graph
plugin: meshops.multicluster.kubeconfig_contexts
"""

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.template import trust_as_template
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.meshops.multicluster.plugins.plugin_utils.kubeconfig_contexts import (
    KubeconfigInventoryError,
    build_hosts,
)


# Every task talks to its cluster's API from the controller, with the Python that runs Ansible.
CONNECTION_VARS = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
# Read from kubeconfig files (context names and what is made of them): data, never a template. A
# context named "prod{{ lookup('pipe', ...) }}" would otherwise run the command on the controller.
FROM_KUBECONFIG = ("mesh_cluster_name", "mesh_kubeconfig", "mesh_context")


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "meshops.multicluster.kubeconfig_contexts"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("kubeconfig_contexts.yml", "kubeconfig_contexts.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            hosts, warnings = build_hosts(
                self.get_option("kubeconfigs"), self.get_option("include"), self.get_option("exclude"),
                self.get_option("cluster_names"), self.get_option("sanitize_names"), self.get_option("host_vars"))
        except KubeconfigInventoryError as e:
            raise AnsibleParserError("%s: %s" % (path, e))
        for warning in warnings:
            self.display.warning("%s: %s" % (path, warning))

        group = self.inventory.add_group(self.get_option("group"))
        strict = self.get_option("strict")
        for variables in hosts:
            host = self.inventory.add_host(variables["mesh_cluster_name"], group=group)
            for name, value in CONNECTION_VARS.items():
                self.inventory.set_variable(host, name, trust_as_template(value))
            for name, value in variables.items():
                self.inventory.set_variable(host, name, wrap_var(value) if name in FROM_KUBECONFIG else value)
            all_vars = self.inventory.get_host(host).get_vars()
            self._set_composite_vars(self.get_option("compose"), all_vars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), all_vars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), all_vars, host, strict=strict)
