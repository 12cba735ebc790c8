#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_check
short_description: Read what the fleet check needs from one cluster
version_added: 1.0.0
description:
  - Reads, in one call and without writing anything, the Helm releases of the control plane
    (chart versions from the labels Helm's charts put on their objects, the values of O(revision)'s istiod
    from its ConfigMap C(values-<revision>); no Secret is read), whether istiod and the gateway are
    Available, the gateway's address, and the records of the C(global) zone server.
  - Reads the cluster's Istio revisions once - the istiod revisions installed, where the revision tags
    point, the gateway's revision, the pods each revision injected, the namespaces that pin a revision
    or tag, and the webhooks that call a Service that does not exist. A tenant's pod or namespace whose
    Istio annotation or label cannot be read is left out with a warning.
  - Judges the C(.global) names of the cluster - the zone server's records and, with O(dns_server), what
    that DNS server answers for every expected host, asked as a workload of the cluster would (the cluster
    DNS address must be reachable from the controller) - and returns the verdict (RV(dns)), not the
    records, which are as many as the fleet's hosts.
  - The C(verify) role compares the results of every cluster in one report (M(meshops.multicluster.mesh_report)).
options:
  revision:
    description:
      - The Istio revision whose istiod's values are read (C(mesh_cluster.revision)) - the ConfigMap
        C(values-<revision>) and the release C(istiod-<revision>). V(default) is an istiod installed without
        a revision (ConfigMap C(values), release C(istiod)).
      - Default, the revision the C(default) tag serves (V(default) when no tag does).
    type: str
    version_added: 1.1.0
  deployments:
    description:
      - Deployments in O(namespace) that must be Available.
      - Default, the istiod of O(revision) (C(istiod-<revision>)) and the gateway (O(gateway_service)).
    type: list
    elements: str
  address_override:
    description: The gateway address the inventory sets for this cluster (C(mesh_gateway_address_override)); wins over discovery.
    aliases: [gateway_address_override]
    type: str
    default: ""
  plan:
    description:
      - The services plan (RV(meshops.multicluster.service_entry_plan#module:plan), as text); with O(cluster_name),
        the C(.global) records this cluster must hold are read from it.
    type: str
    version_added: 1.1.0
  cluster_name:
    description: This cluster's name in O(plan).
    type: str
    version_added: 1.1.0
  expected_records:
    description: C(.global) host name to VIP, as the ServiceEntries of this cluster hold them (instead of O(plan)).
    type: dict
    default: {}
  dns_delegated:
    description:
      - Whether the cluster's DNS delegates zone C(global) to the zone server, as the C(dns) role's check found it;
        V(false) fails the C(.global) check at once. Leave it out where the sidecar proxy serves DNS.
    type: bool
    version_added: 1.1.0
  dns_server:
    description: Address of the cluster's DNS to query for the expected records; empty to skip the queries.
    type: str
    default: ""
  dns_port:
    description: Port of O(dns_server).
    type: int
    default: 53
  dns_wait:
    description:
      - Seconds to keep asking while a name whose zone record is right is answered wrong. A cluster
        DNS picks up a changed configuration only after its reload interval (30 s in kubeadm's
        Corefile) and the ConfigMap's propagation to its pods (up to a minute).
    type: int
    default: 0
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
  - meshops.multicluster.mesh.namespace
  - meshops.multicluster.mesh.gateway_service
  - meshops.multicluster.attributes.read_only
seealso:
  - module: meshops.multicluster.mesh_report
  - module: meshops.multicluster.mesh_revision_info
  - module: meshops.multicluster.ca_intermediate_info
  - module: meshops.multicluster.mesh_gateway_info
  - module: meshops.multicluster.mesh_permissions
  - ref: ansible_collections.meshops.multicluster.docsite.troubleshooting
    description: What each failed check of the fleet report means and how to fix it.
  - ref: ansible_collections.meshops.multicluster.docsite.operations
    description: Check mode, the fleet report and AWX workflows.
  - ref: ansible_collections.meshops.multicluster.docsite.dns
    description: Checking the C(.global) names by hand.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# What the verify role does on every cluster, then hands to mesh_report once.
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: Fleet check
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  block:
    - name: Read the control plane, the gateway and the .global names of this cluster
      meshops.multicluster.mesh_check:
        namespace: istio-system
        revision: 1-31-0
        gateway_service: istio-eastwestgateway
        deployments: [istiod-1-31-0, istio-eastwestgateway]
        gateway_address_override: "{{ mesh_gateway_address_override | default('') }}"
        plan: "{{ services_plan.plan }}"  # a service_entry_plan result
        cluster_name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
        dns_delegated: true
        dns_server: 10.96.0.10
        dns_wait: 90
      register: check

    - name: Show what is not ready, the revisions, the gateway and what the cluster DNS answered
      ansible.builtin.debug:
        msg:
          - "not ready: {{ check.not_ready }}"
          - "default tag on {{ check.revisions.default_revision }}; pods per revision: {{ check.revisions.pods }}"
          - "gateway: {{ check.gateway.address | default('none') }}:{{ check.gateway.port | default('-') }}"
          - "dns: {{ check.dns.status }} - {{ check.dns.detail }}"

    - name: Describe this cluster for the report
      ansible.builtin.set_fact:
        fleet_check_cluster:
          name: "{{ mesh_cluster_name | default(inventory_hostname) }}"
          reachable: true
          check: "{{ check }}"

    - name: Judge every cluster at once
      meshops.multicluster.mesh_report:
        clusters: "{{ ansible_play_hosts | map('extract', hostvars, 'fleet_check_cluster') | list }}"
        fleet: {mesh_id: mesh1, trust_domain: cluster.local, chart_version: 1.31.0, plan: "{{ services_plan.plan }}"}
        fail_on_error: false
      run_once: true
      delegate_to: localhost

# The control plane and gateway only (no DNS queries): the istiod the default tag serves and the
# gateway Available, that istiod at 1.31.0.
- name: Read the control plane only
  meshops.multicluster.mesh_check:
    namespace: istio-system
  register: control_plane

- name: Fail when istiod is not ready or behind the fleet's version
  ansible.builtin.assert:
    that:
      - control_plane.not_ready == {}
      - control_plane.revisions.revisions[control_plane.revisions.default_revision].version | default('') == '1.31.0'
    fail_msg: "{{ control_plane.not_ready }} {{ control_plane.revisions.revisions }}"
"""

RETURN = r"""
releases:
  description:
    - Installed Helm releases in O(namespace), by name, with C(chart), C(version) (chart version), C(app_version)
      and, for the istiod of O(revision), C(values) (the values it was installed with, credentials redacted).
  returned: always
  type: dict
  sample:
    istio-base: {chart: base, version: 1.31.0, app_version: 1.31.0, values: null}
    istiod-1-31-0: {chart: istiod, version: 1.31.0, app_version: 1.31.0, values: {global: {meshID: mesh1, network: east}}}
    istio-eastwestgateway: {chart: gateway, version: 1.31.0, app_version: 1.31.0, values: null}
not_ready:
  description: Deployment name to why it is not Available (empty when all are).
  returned: always
  type: dict
  sample: {istio-eastwestgateway: 0 of 1 replicas available}
gateway:
  description: Address, port and source of the gateway address; null when it has none.
  returned: always
  type: dict
  sample: {address: 203.0.113.10, port: 15443, source: load balancer IP}
dns:
  description:
    - The C(.global) check of this cluster - C(status) (V(pass), V(fail), V(skip)), C(detail) (how many names, the
      first wrong one and what was answered), and on a failure the C(object) to look at, the C(fix) and the C(step)
      that repairs it. The zone server's records must be the expected ones; with O(dns_server), so must its answers.
  returned: always
  type: dict
  version_added: 1.1.0
  sample: {status: fail, detail: "1 of 2 names answered wrong: pay.fx.global -> NXDOMAIN from 10.96.0.10:53 for pay.fx.global",
           object: cluster DNS, fix: "run playbooks/dns.yml, then check the zone server's pods", step: dns}
malformed:
  description:
    - Objects whose content could not be read, each with the check it belongs to (C(control_plane), C(dns),
      C(root)), the object and what is wrong with it; the fleet check fails that check of this cluster.
  returned: always
  type: list
  elements: dict
  sample:
    - check: dns
      object: ConfigMap istio-system/istiocoredns-records
      problem: "global.hosts line 3: '240.10.0' is not an IPv4 address"
revisions:
  description:
    - The cluster's Istio revisions, in the shape of the result of M(meshops.multicluster.mesh_revision_info) (without C(probes)).
    - C(revisions) - per revision its istiod's Helm C(release), chart C(version), C(ready), whether its C(service)
      exists and C(in_use_by) (what keeps it - tags, namespaces, pods, the gateway; empty when nothing uses it).
      C(tags) - where each revision tag points. C(default_revision) - the revision the C(default) tag serves.
      C(gateway) - the gateway's C(name), C(revision) and C(ready). C(namespaces) - the revision or tag each
      namespace pins. C(pods) - per revision the running pods it injected. C(dangling_webhooks) - the webhooks
      whose Service does not exist (the fleet check fails them).
  returned: always
  type: dict
  sample:
    revisions:
      1-31-0: {release: istiod-1-31-0, version: 1.31.0, ready: true, service: true,
               in_use_by: [tag default, tag stable, namespace shop (tag stable), 12 pods, gateway istio-eastwestgateway]}
      1-30-0: {release: istiod-1-30-0, version: 1.30.0, ready: true, service: true, in_use_by: [3 pods]}
    tags: {default: {revision: 1-31-0, ours: true}, stable: {revision: 1-31-0, ours: true}}
    default_revision: 1-31-0
    gateway: {name: istio-eastwestgateway, revision: 1-31-0, ready: true}
    namespaces: {shop: stable}
    pods: {1-31-0: 12, 1-30-0: 3}
    dangling_webhooks: []
istiod_roots:
  description:
    - Fingerprints of the roots istiod publishes to workloads (ConfigMap C(istio-ca-root-cert) in O(namespace));
      null when there is none yet. Not the roots of Secret cacerts means istiod runs a CA of its own.
  returned: always
  type: list
  elements: str
  sample:
    - "5E:0B:7C:91:3A:D2:44:F8:1C:6E:A9:02:B7:53:8D:E1:0F:29:C4:76:9B:E3:12:5A:D8:60:41:AF:3C:97:E5:0D"
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.cluster_reader import read_cluster
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import GATEWAY, ISTIO_NAMESPACE


def main():
    module = k8s_module(dict(
        namespace=dict(type="str", default=ISTIO_NAMESPACE),
        revision=dict(type="str"),
        deployments=dict(type="list", elements="str"),
        gateway_service=dict(type="str", default=GATEWAY),
        address_override=dict(type="str", default="", aliases=["gateway_address_override"]),
        plan=dict(type="str"),
        cluster_name=dict(type="str"),
        expected_records=dict(type="dict", default={}),
        dns_delegated=dict(type="bool"),
        dns_server=dict(type="str", default=""),
        dns_port=dict(type="int", default=53),
        dns_wait=dict(type="int", default=0),
    ), supports_check_mode=True, mutually_exclusive=[("plan", "expected_records")], required_by={"plan": "cluster_name"})
    client = k8s_client(module)
    try:
        result = read_cluster(client, module.params)
    except MeshError as exc:
        fail_with(module, exc)
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
