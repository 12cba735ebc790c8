#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_dns
short_description: Delegate a DNS zone (C(global)) from a cluster's DNS to the mesh's zone server
version_added: 1.0.0
description:
  - Makes the cluster's DNS send every name of O(zone) to O(target_ips), usually the ClusterIP of
    the C(istio-system/istiocoredns) zone server, so C(<name>.<namespace>.global) resolves in every Pod.
  - B(CoreDNS) - adds a server block C(<zone>:53 { errors; cache 30; forward . <ips> }) between the
    marker lines C(# BEGIN meshops.multicluster <zone>) and C(# END meshops.multicluster <zone>) in
    front of the Corefile, updates it in place on later runs and removes exactly those lines with
    O(state=absent); every other byte of the Corefile stays as it was. C(proxy) replaces C(forward)
    for CoreDNS older than 1.5, as told by the image tag of the CoreDNS Deployment.
  - A Corefile that does not parse is left alone and the module fails saying where; so does a
    Corefile that already serves O(zone) on port 53 outside the markers. An edited Corefile is
    parsed again before it is written.
  - With O(custom_configmap=true) the block goes into its own key of ConfigMap C(coredns-custom)
    (AKS and k3s, whose Corefile imports its C(*.server) keys). The ConfigMap is created (labelled as
    the collection's) when missing. Refused when no C(import) of the Corefile reads that key.
  - The block lives in one place only. Switching O(custom_configmap) moves it in one run - the copy in
    the other place (Corefile or C(coredns-custom) key) is removed first, byte for byte - and
    O(state=absent) removes it from both.
  - Before any write, the complete configuration CoreDNS will read - the Corefile and the files its
    top-level C(import) lines match in the ConfigMaps the CoreDNS Deployment mounts (the container's
    C(-conf) path and C(volumeMounts); the k3s/AKS layout when there is no Deployment) - is checked; a
    zone and port defined twice, in either place, is refused naming both places, and nothing is written.
  - A Corefile ConfigMap without the Corefile key is refused (no Corefile is invented) with
    O(state=present).
  - The name of the Corefile's ConfigMap is read from the CoreDNS Deployment's volumes (for example
    C(rke2-coredns-rke2-coredns) on RKE2); O(configmap_name) overrides it.
  - A Corefile ConfigMap labelled C(addonmanager.kubernetes.io/mode=Reconcile) is refused, because
    the addon manager would revert the edit; use O(custom_configmap).
  - B(kube-dns) - merges the stub domain O(zone) with servers O(target_ips) into the C(stubDomains) JSON of ConfigMap
    C(kube-system/kube-dns), keeping other stub domains and C(upstreamNameservers); O(state=absent)
    removes exactly that key, and the C(stubDomains) key itself when nothing else is left. A missing
    C(kube-dns) ConfigMap (it is optional) is created labelled as the collection's, and deleted again
    on O(state=absent) only if it is the collection's and holds nothing else.
  - The cluster DNS ConfigMaps are not the collection's. This module changes only its own block or
    key, with a JSON merge patch of that one data key guarded by the resourceVersion it read (no
    server-side apply, which would take ownership of the data), and adds no labels or annotations.
options:
  provider:
    description:
      - The cluster's DNS server. V(auto) finds it - CoreDNS when a Deployment C(coredns) or one
        labelled C(k8s-app=kube-dns) runs a CoreDNS image, or ConfigMap C(coredns) exists; kube-dns
        when Deployment or ConfigMap C(kube-dns) exists without those.
    type: str
    choices: [auto, coredns, kube-dns]
    default: auto
  zone:
    description: The DNS zone to delegate.
    type: str
    default: global
  target_ips:
    description: IP addresses of the servers that answer for O(zone). Required with O(state=present).
    type: list
    elements: str
  state:
    description: V(absent) removes the delegation again.
    type: str
    choices: [present, absent]
    default: present
  configmap_namespace:
    description: Namespace of the cluster DNS Deployment and ConfigMap.
    type: str
    default: kube-system
  configmap_name:
    description:
      - ConfigMap to edit. Defaults to the one the CoreDNS Deployment mounts the Corefile from
        (else C(coredns)); C(coredns-custom) with O(custom_configmap); C(kube-dns) for kube-dns.
    type: str
  configmap_key:
    description:
      - Data key to edit. Defaults to C(Corefile); C(<zone>.server) with O(custom_configmap);
        C(stubDomains) for kube-dns.
    type: str
  custom_configmap:
    description:
      - Put the block into its own key of the C(coredns-custom) ConfigMap instead of the Corefile
        (AKS, where the addon manager reverts Corefile edits; k3s). The key must end in C(.server).
    type: bool
    default: false
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
attributes:
  check_mode:
    support: full
    description: Reports what would change; nothing is written.
  diff_mode:
    support: full
    description: The Corefile and the C(coredns-custom) key (CoreDNS), or C(stubDomains) (kube-dns), before and after; one diff per key.
  idempotent:
    support: full
    description: A second run reports no change and makes no write request.
seealso:
  - module: meshops.multicluster.mesh_resources
  - module: meshops.multicluster.service_entry
  - module: meshops.multicluster.mesh_check
  - ref: ansible_collections.meshops.multicluster.docsite.dns
    description: The zone server, what the delegation changes in CoreDNS and kube-dns, the AKS and k3s layouts.
  - ref: ansible_collections.meshops.multicluster.docsite.permissions
    description: What the dns step may change in the cluster DNS ConfigMaps.
  - ref: ansible_collections.meshops.multicluster.docsite.troubleshooting
    description: When C(.global) does not resolve, or the cluster DNS configuration is refused.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# What the dns role does: start the zone server, then send .global to its ClusterIP.
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: .global resolves in every cluster
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  block:
    - name: Apply the zone server's Service and read its ClusterIP
      meshops.multicluster.mesh_resources:
        objects:
          - kind: Service
            metadata: {name: istiocoredns, namespace: istio-system}
            spec:
              selector: {app: istiocoredns}
              ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
      register: zone_server

    - name: Send .global to the zone server (CoreDNS or kube-dns, found automatically)
      meshops.multicluster.mesh_dns:
        target_ips: ["{{ zone_server.resources[0].spec.clusterIP }}"]
      register: delegation

    - name: Say what was changed
      ansible.builtin.debug:
        msg: "{{ delegation.provider }} {{ delegation.coredns_version | default('') }}: {{ delegation.changed_places | join('; ') or 'nothing to change' }}"

# Review the Corefile edit before making it: the diff shows the Corefile before and after.
- name: Preview the delegation
  meshops.multicluster.mesh_dns:
    target_ips: [10.96.143.20]
  check_mode: true
  diff: true

- name: AKS - the block goes into coredns-custom (key global.server), which the addon manager leaves alone
  meshops.multicluster.mesh_dns:
    provider: coredns
    custom_configmap: true
    target_ips: [10.0.88.14]

- name: RKE2, naming the ConfigMap explicitly
  meshops.multicluster.mesh_dns:
    configmap_name: rke2-coredns-rke2-coredns
    target_ips: [10.43.12.7]

- name: Restore the cluster DNS configuration (uninstall)
  meshops.multicluster.mesh_dns:
    state: absent
"""

RETURN = r"""
provider:
  description: The DNS server the edit was made for.
  returned: always
  type: str
  sample: coredns
changed_places:
  description: The ConfigMap keys changed (or that would be), in write order - removals first.
  returned: always
  type: list
  elements: str
  sample: ["ConfigMap kube-system/coredns-custom key global.server", "ConfigMap kube-system/coredns key Corefile"]
configmap:
  description: C(namespace/name) of the ConfigMap that holds (or would hold) the delegation.
  returned: always
  type: str
  sample: kube-system/coredns
configmap_key:
  description: The data key edited.
  returned: always
  type: str
  sample: Corefile
plugin:
  description: C(forward) or C(proxy), the CoreDNS plugin of the block.
  returned: when provider is coredns
  type: str
  sample: forward
coredns_version:
  description: CoreDNS version from the Deployment's image tag; null when unknown.
  returned: when provider is coredns
  type: str
  sample: 1.11.3
api_requests:
  description: Read and write requests this run made to the API server.
  returned: always
  type: dict
  sample: {read: 2, write: 1}
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._dns.cluster_dns import check_input, delegate
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ZONE


def main():
    module = k8s_module(
        dict(provider=dict(type="str", choices=["auto", "coredns", "kube-dns"], default="auto"),
             zone=dict(type="str", default=ZONE),
             target_ips=dict(type="list", elements="str"),
             state=dict(type="str", choices=["present", "absent"], default="present"),
             configmap_namespace=dict(type="str", default="kube-system"),
             configmap_name=dict(type="str"),
             configmap_key=dict(type="str", no_log=False),
             custom_configmap=dict(type="bool", default=False)),
        required_if=[("state", "present", ("target_ips",))],
        supports_check_mode=True)
    try:
        zone, targets = check_input(module.params)
    except MeshError as exc:
        fail_with(module, exc)
    client = k8s_client(module)
    try:
        result = delegate(client, module.params, zone, targets, module._diff)
    except MeshError as exc:
        fail_with(module, exc, client)
    module.exit_json(api_requests=client.requests, **result)


if __name__ == "__main__":
    main()
