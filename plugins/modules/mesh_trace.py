#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_trace
short_description: Follow one .global host hop by hop from one cluster, and name the first broken hop
version_added: 1.1.0
description:
  - Runs once, on the controller, with what M(meshops.multicluster.mesh_trace_info) read from every cluster
    and the services plan (what the services step would write now). Talks to no cluster.
  - Judges, in order, every hop a request from a sidecar of a source cluster to a host takes - 1 export (which
    clusters export the host, and whether the source imports it), 2 dns (the zone record and the cluster DNS
    give the VIP, or the sidecar DNS proxy is on), 3 service_entry (VIP, ports, endpoints = the exporters'
    gateways), 4 destination_rule (ISTIO_MUTUAL, outlier detection, failover), 5 istiod (the host and its
    endpoints as istiod holds them), 6 trust (the source's roots hold the root of every exporter's
    intermediate CA, none expired), 7 gateway (each exporter's gateway address, port 15443, the
    C(*.global) AUTO_PASSTHROUGH Gateway, readiness), 8 exporter (namespace, ready endpoints, the
    exporter's own ServiceEntry that its gateway routes the SNI to).
  - Stops at the first broken hop, with its evidence and the fix; the hops after it are reported C(SKIP).
  - Traces every host of O(hosts) from every cluster of O(sources).
options:
  hosts:
    description: The hosts to trace, each C(<service>.<namespace>.global).
    type: list
    elements: str
    required: true
  sources:
    description:
      - The clusters the request starts from (their names in the plan).
      - Default, every cluster that imports the host (every cluster when none does).
    type: list
    elements: str
    default: []
  readings:
    description: Each cluster's RV(meshops.multicluster.mesh_trace_info#module:reading), by cluster name.
    type: dict
    required: true
  plan:
    description: The services plan (RV(meshops.multicluster.service_entry_plan#module:plan), as text).
    type: str
    required: true
  export_label:
    description: The label that exports a Service (C(mesh_services_export_label)).
    type: str
    default: multicluster.meshops.io/export
  dns_mode:
    description: How C(.global) names resolve (C(mesh_dns_mode)).
    type: str
    choices: [zone_server, sidecar_proxy]
    default: zone_server
  dns_delegated:
    description: By cluster name, whether its DNS delegates zone C(global) to the zone server, as the C(dns) role's check found it.
    type: dict
    default: {}
  ready_endpoints:
    description:
      - Require ready endpoints of the exported Service (hop 8). V(false) only where EndpointSlices cannot be
        filled, as in the lab (its pods have loopback addresses, which Kubernetes refuses as endpoints).
    type: bool
    default: true
  fail_on_break:
    description: Fail (after the result is complete) when a hop of any trace is broken.
    type: bool
    default: true
extends_documentation_fragment:
  - meshops.multicluster.attributes.read_only
seealso:
  - module: meshops.multicluster.mesh_trace_info
  - module: meshops.multicluster.service_entry_plan
  - ref: ansible_collections.meshops.multicluster.docsite.operations
    description: Tracing one service across the fleet (playbooks/trace.yml).
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# playbooks/trace.yml does this: mesh_trace_info on every cluster, the plan once, then the judgement.
- name: Trace httpbin.bar.global from cluster2
  meshops.multicluster.mesh_trace:
    hosts: [httpbin.bar.global]
    sources: [cluster2]
    readings: "{{ dict(groups['mesh_clusters'] | map('extract', hostvars, ['mesh_cluster', 'name'])
                  | zip(groups['mesh_clusters'] | map('extract', hostvars, ['trace_info', 'reading']))) }}"
    plan: "{{ services_plan.plan }}"
  run_once: true
  delegate_to: localhost
  register: trace

- name: Two hosts from every cluster that imports them, where names resolve through the sidecar DNS proxy
  meshops.multicluster.mesh_trace:
    hosts: [httpbin.bar.global, web.shop.global]
    readings: "{{ trace_readings }}"
    plan: "{{ services_plan.plan }}"
    dns_mode: sidecar_proxy
    fail_on_break: false
  run_once: true
  delegate_to: localhost
  register: trace
"""

RETURN = r"""
traces:
  description: One trace per host and source.
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: The host traced.
      type: str
      sample: httpbin.bar.global
    source:
      description: The cluster the request starts from.
      type: str
      sample: cluster2
    ok:
      description: Whether no hop failed.
      type: bool
      sample: false
    broken:
      description: The first failed hop (a row of C(hops)), null when every hop passed.
      type: dict
      sample: {hop: 2, check: dns, cluster: cluster2, status: FAIL,
               evidence: ["the zone server holds no record for httpbin.bar.global; its VIP is 240.10.0.1"], fix: run playbooks/services.yml}
    hops:
      description: Every hop in order; hops 6 and 8 have one row per exporter, hop 7 one per exporter but the source.
      type: list
      elements: dict
      sample:
        - {hop: 1, check: export, cluster: cluster2, status: PASS, evidence: ["exported by cluster1"], fix: ""}
      contains:
        hop:
          description: The hop's number (1-8).
          type: int
          sample: 3
        check:
          description: The hop's name (export, dns, service_entry, destination_rule, istiod, trust, gateway, exporter).
          type: str
          sample: service_entry
        cluster:
          description: The cluster the hop was judged in (C(fleet) when the plan itself is at fault).
          type: str
          sample: cluster2
        status:
          description: PASS, FAIL or SKIP.
          type: str
          sample: FAIL
        evidence:
          description: What was found, one line each.
          type: list
          elements: str
          sample: ["ServiceEntry bar/httpbin.bar.global: endpoint 203.0.113.9:15443 is no exporter's gateway now (stale)"]
        fix:
          description: What to do, on a failed hop.
          type: str
          sample: "run playbooks/services.yml: it writes the ServiceEntries, DestinationRules and zone records from the plan"
broken_count:
  description: How many traces are broken.
  returned: always
  type: int
  sample: 1
ok:
  description: Whether no hop of any trace failed.
  returned: always
  type: bool
  sample: false
table:
  description: Each trace as console lines - a title with its verdict, then hop | cluster | status | evidence, and the fix under a failure.
  returned: always
  type: list
  elements: str
  sample: ["== httpbin.bar.global from cluster2: every hop passes", "hop                  cluster      status  evidence",
           "1 export             cluster2     PASS    exported by cluster1"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import InputError, MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with
from ansible_collections.meshops.multicluster.plugins.module_utils._services.plan import from_text
from ansible_collections.meshops.multicluster.plugins.module_utils._trace.hops import tables, trace_fleet


def main():
    module = AnsibleModule(argument_spec=dict(
        hosts=dict(type="list", elements="str", required=True),
        sources=dict(type="list", elements="str", default=[]),
        readings=dict(type="dict", required=True),
        plan=dict(type="str", required=True),
        export_label=dict(type="str", default="multicluster.meshops.io/export"),
        dns_mode=dict(type="str", default="zone_server", choices=["zone_server", "sidecar_proxy"]),
        dns_delegated=dict(type="dict", default={}),
        ready_endpoints=dict(type="bool", default=True),
        fail_on_break=dict(type="bool", default=True),
    ), supports_check_mode=True)
    params = module.params
    try:
        plan = from_text(params["plan"])
        unknown = [source for source in params["sources"] if source not in plan.get("gateways", {})]
        if unknown:
            raise InputError("sources %s are not clusters of the plan (clusters: %s)" % (
                ", ".join(unknown), ", ".join(sorted(plan.get("gateways", {})))), field="sources")
        traces = trace_fleet(params["hosts"], params["sources"], plan, params["readings"], params["export_label"],
                             params["dns_mode"], params["dns_delegated"], params["ready_endpoints"])
    except MeshError as exc:
        fail_with(module, exc)
    broken = [trace for trace in traces if not trace["ok"]]
    result = dict(changed=False, traces=traces, broken_count=len(broken), ok=not broken, table=tables(traces))
    if broken and params["fail_on_break"]:
        module.fail_json(msg="; ".join("%s from %s breaks at hop %d (%s) in %s: %s; fix: %s" % (
            t["host"], t["source"], t["broken"]["hop"], t["broken"]["check"], t["broken"]["cluster"],
            "; ".join(t["broken"]["evidence"]), t["broken"]["fix"]) for t in broken), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
