#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_trace_info
short_description: Read what the trace of one .global host needs from one cluster
version_added: 1.1.0
description:
  - Reads, in one call and without writing anything, one cluster's part of the path of a request to
    each of O(hosts) - as the cluster the request starts from and as one that may export the host - for
    M(meshops.multicluster.mesh_trace), which judges the hops from the results of every cluster.
  - As a source, the ServiceEntry and DestinationRule of the host that the collection wrote, the zone
    server's record of the host and what the cluster DNS answers for it (with O(dns_server)), whether
    istiod's mesh config turns the sidecar DNS proxy on, the roots istiod gives workloads, and with
    O(istiod_debug) the host as istiod holds it (its debug views on port 15014, through a port-forward to
    istiod's newest ready pod, as C(istioctl) reaches them; read once for every host).
  - As an exporter, the Service (its export label and export-to annotation), its namespace and istiod's
    discoverySelectors, the ready
    addresses of its EndpointSlices, the east-west gateway (Service, address, port 15443, the C(*.global)
    Gateway, readiness) and the intermediate CA of Secret C(cacerts) (certificates only, never the key).
options:
  hosts:
    description: The hosts to trace, each C(<service>.<namespace>.global).
    type: list
    elements: str
    required: true
  revision:
    description: The Istio revision whose istiod and mesh config are read (C(mesh_cluster.revision)); V(default) without one.
    type: str
    default: default
  address_override:
    description: The gateway address the inventory sets for this cluster (C(mesh_gateway_address_override)); wins over discovery.
    type: str
    default: ""
  dns_server:
    description: Address of the cluster's DNS to ask for each host, as a workload would; empty to not ask.
    type: str
    default: ""
  dns_port:
    description: Port of O(dns_server).
    type: int
    default: 53
  istiod_debug:
    description:
      - Read the host from istiod's debug views (C(/debug/registryz), C(/debug/endpointShardz) on port 15014)
        through a port-forward (C(pods/portforward)) to the newest ready pod of istiod of O(revision). Needs
        permission option C(istiod_debug) (list pods, port-forward to them; a port-forward stores no object).
      - Istio since 1.11 answers those views only to a mesh identity or to localhost (istio/istio#32903); a
        port-forward arrives in the pod from its localhost, as C(istioctl) reaches istiod. The API server's
        service proxy does not, so it is not used.
      - What cannot be read (403, no ready pod, istiod not answering) is hop 5's evidence in
        M(meshops.multicluster.mesh_trace), not an error of this module.
    type: bool
    default: false
requirements:
  - websocket-client >= 1.0 (installed with kubernetes), only with O(istiod_debug)
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
  - meshops.multicluster.mesh.namespace
  - meshops.multicluster.mesh.gateway_service
  - meshops.multicluster.attributes.read_only
seealso:
  - module: meshops.multicluster.mesh_trace
  - ref: ansible_collections.meshops.multicluster.docsite.operations
    description: Tracing one service across the fleet (playbooks/trace.yml).
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# In a play on the hosts of group mesh_clusters with connection: local. module_defaults on the block
# connect every module of group meshops.multicluster.k8s to this host's cluster.
- name: Read each cluster's part of the path to httpbin.bar.global
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  block:
    - name: Read this cluster as a source and as an exporter, and ask its DNS
      meshops.multicluster.mesh_trace_info:
        hosts: [httpbin.bar.global, web.shop.global]
        revision: 1-31-0
        dns_server: 10.96.0.10
      register: trace_info

    - name: The same, also asking istiod's debug views through a port-forward (permission option istiod_debug)
      meshops.multicluster.mesh_trace_info:
        hosts: [httpbin.bar.global]
        revision: 1-31-0
        istiod_debug: true
      register: trace_info_plain
"""

RETURN = r"""
reading:
  description: This cluster's part of the path (the input of M(meshops.multicluster.mesh_trace)'s O(meshops.multicluster.mesh_trace#module:readings)).
  returned: success
  type: dict
  contains:
    hosts:
      description:
        - By host, what this cluster holds for it - C(service) (labels, C(export_to), routable C(ports), C(problems);
          null when there is no Service), C(namespace) (C(exists), C(phase), C(labels)), C(endpoints) (C(ready) and
          C(not_ready) addresses of its EndpointSlices), C(entries) and C(rules) (the ServiceEntries and
          DestinationRules of the host the collection wrote), C(dns) (the zone server's C(record), the cluster DNS's
          C(answer) or C(answer_error)), C(istiod) (the C(pod) read, C(registered), C(addresses), C(endpoints) with
          C(tls_mode); or its C(error) with the HTTP C(status) and whether the views were C(malformed); null when not
          read).
      type: dict
      sample:
        httpbin.bar.global:
          service: {labels: {multicluster.meshops.io/export: "true"}, export_to: null, problems: [],
                    ports: [{name: http, number: 8000, protocol: HTTP}]}
          namespace: {exists: true, phase: Active}
          endpoints: {ready: 2, not_ready: 0}
          entries:
            - {name: httpbin.bar.global, namespace: bar, exported_from: cluster1, addresses: [240.10.0.1],
               ports: [{name: http, number: 8000, protocol: HTTP}],
               endpoints: [{address: 203.0.113.10, ports: {http: 15443}, locality: eu/a, labels: {security.istio.io/tlsMode: istio}}]}
          rules:
            - {name: httpbin.bar.global, namespace: bar, tls_mode: ISTIO_MUTUAL, locality_lb: true,
               outlier: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100}}
          dns: {zone_server: true, record: 240.10.0.1, answer: [240.10.0.1]}
          istiod: {service: istiod-1-31-0, pod: istiod-1-31-0-7d9f8b6c5-x2x4q, registered: true, addresses: [240.10.0.1],
                   endpoints: [{address: "203.0.113.10:15443", tls_mode: istio}]}
    gateway:
      description: The east-west gateway - C(exists), C(address), C(problem), C(ports), C(not_ready), C(routing) (the C(*.global) Gateway's servers).
      type: dict
      sample: {exists: true, address: {address: 203.0.113.10, port: 15443, source: load balancer IP}, problem: "",
               ports: [15021, 15443], not_ready: "", routing: [{port: 15443, mode: AUTO_PASSTHROUGH, hosts: ["*.global"]}]}
    roots:
      description: The roots istiod gives workloads (subject, serial, fingerprint, not_after, days_left); null when it gives none.
      type: list
      elements: dict
      sample:
        - {subject: "CN=Root CA,O=Istio", serial: 5f3a, fingerprint: "EA:2A:...", not_after: "2036-12-01T00:00:00Z", days_left: 3647}
    intermediate:
      description: The intermediate CA of C(cacerts) and the fingerprint of the root that signed it; null without C(cacerts).
      type: dict
      sample: {intermediate: {serial: 26bee8, not_after: "2027-12-01T00:00:00Z", days_left: 360},
               root_fingerprint: "EA:2A:...", root_fingerprints: ["EA:2A:..."]}
    mesh_config:
      description: From istiod's mesh config, whether it turns the sidecar DNS proxy on (C(dns_capture)) and the
        namespaces it watches (C(discovery_selectors)); C(malformed) when it cannot be read.
      type: dict
      sample: {dns_capture: false, discovery_selectors: []}
"""

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import GATEWAY, ISTIO_NAMESPACE
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._trace.reading import read_for_trace


def main():
    module = k8s_module(dict(
        hosts=dict(type="list", elements="str", required=True),
        namespace=dict(type="str", default=ISTIO_NAMESPACE),
        revision=dict(type="str", default="default"),
        gateway_service=dict(type="str", default=GATEWAY),
        address_override=dict(type="str", default=""),
        dns_server=dict(type="str", default=""),
        dns_port=dict(type="int", default=53),
        istiod_debug=dict(type="bool", default=False),
    ), supports_check_mode=True)
    client = k8s_client(module)
    try:
        reading = read_for_trace(client, module.params)
    except MeshError as exc:
        fail_with(module, exc, client)
    module.exit_json(changed=False, reading=reading)


if __name__ == "__main__":
    main()
