#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_report
short_description: Judge the fleet check and write the fleet report
version_added: 1.0.0
description:
  - Runs once, on the controller, with what the C(verify) role read from every cluster.
  - Decides pass, warn or fail for every check of every cluster (same root, intermediate CA, control
    plane, revisions, gateway address, C(.global) DNS, ServiceEntries), each failure naming the object and the fix.
  - Revisions - the fleet's version window spans the chart version of every istiod revision of every cluster
    read; a fleet more than one minor apart fails the clusters outside the window, naming them. A webhook
    that calls a Service that does not exist fails its cluster, naming the webhook configuration and the
    Service. A revision installed that nothing uses is a note (C(playbooks/upgrade.yml) removes it), not a failure.
  - The report shows per cluster the revisions installed, where the revision tags point, the gateway's
    revision, the pods per revision and the namespaces that pin a revision or tag.
  - Writes a self-contained HTML page (a table of clusters and checks, and a diagram of the mesh as
    inline SVG) and the same model as JSON, and returns a console table.
  - Talks to no cluster.
options:
  clusters:
    description: One entry per cluster, as the C(verify) role builds it.
    type: list
    elements: dict
    required: true
  fleet:
    description:
      - Mesh-wide expectations (mesh_id, trust_domain, root_fingerprint, chart_version, warn_days, releases),
        and C(plan), the services plan (RV(meshops.multicluster.service_entry_plan#module:plan), as text), read
        once for what each cluster exports and imports and each multi-cluster service's failover order.
      - C(revoked_clusters), the revoked entries of the controller's revocation record (C(intermediates.json),
        M(meshops.multicluster.ca_crl)), names the cluster of each serial the trust column shows revoked.
      - C(traces), the RV(meshops.multicluster.mesh_trace#module:traces) of the hosts the check was asked to trace
        (C(mesh_verify_trace_hosts)); each is a section of the report, and a broken one fails it.
      - C(pending_steps), in check mode, names the steps that ran before without writing; a failure one of them
        would fix is reported C(pending), not failed, and does not make the report fail.
    type: dict
    required: true
  report_dir:
    description: Directory for C(mesh-report.html) and C(mesh-report.json); created if needed. Empty to write nothing.
    type: path
    default: ""
  fail_on_error:
    description: Fail (after writing the report) when any check fails.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Writes the report files in check mode too (they describe the clusters, they change none).
  diff_mode:
    support: none
    description: Nothing in a cluster is changed.
  idempotent:
    support: full
    description: Reports changed=false; the files are rewritten with the current state.
seealso:
  - module: meshops.multicluster.mesh_check
  - module: meshops.multicluster.ca_intermediate_info
  - module: meshops.multicluster.service_entry
  - ref: ansible_collections.meshops.multicluster.docsite.troubleshooting
    description: What each failed check means and how to fix it; malformed objects and pending checks.
  - ref: ansible_collections.meshops.multicluster.docsite.operations
    description: Check mode, and the report in AWX workflows.
  - ref: ansible_collections.meshops.multicluster.docsite.quickstart
    description: Reading the fleet report.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
# The end of the verify role: every cluster was read with mesh_check (and ca_intermediate_info), described as
# mesh_verify_cluster; one task on the controller judges them all.
- name: Judge the fleet and write the report
  meshops.multicluster.mesh_report:
    clusters: "{{ ansible_play_hosts_all | map('extract', hostvars, 'mesh_verify_cluster') | list }}"
    fleet:
      mesh_id: mesh1
      trust_domain: cluster.local
      root_fingerprint: "{{ mesh_root.fingerprint }}"
      chart_version: 1.31.0
      releases: [istio-base, istiod, istio-eastwestgateway]
      warn_days: 30
      plan: "{{ services_plan.plan }}"  # a service_entry_plan result
    report_dir: "{{ playbook_dir }}/../reports"
    fail_on_error: false
  run_once: true
  delegate_to: localhost
  register: report

- name: Show the fleet report
  ansible.builtin.debug:
    msg: "{{ (report.text + ['', 'report: ' ~ (report.files | join(', '))]) | join('\n') }}"
  run_once: true

- name: Hand the report to the next job of an AWX workflow
  ansible.builtin.set_stats:
    data:
      mesh_report: "{{ report.report }}"
  run_once: true

- name: Fail the job when a check failed
  ansible.builtin.fail:
    msg: "{{ report.failed_count }} check(s) failed; see {{ report.files | first }}"
  run_once: true
  when: not report.ok

# A quick verdict without files (report_dir empty): the module itself fails when a check fails.
- name: Judge the fleet, write nothing
  meshops.multicluster.mesh_report:
    clusters: "{{ ansible_play_hosts_all | map('extract', hostvars, 'mesh_verify_cluster') | list }}"
    fleet: {mesh_id: mesh1, trust_domain: cluster.local, chart_version: 1.31.0}
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
ok:
  description: Whether every check of every cluster passed (warnings and pending checks allowed).
  returned: always
  type: bool
  sample: false
failed_count:
  description:
    - How many checks failed, over every cluster (warnings and pending checks not counted); the C(verify) role's
      failure says it. Not C(failed), which Ansible reads as the task's own verdict.
  returned: always
  type: int
  sample: 1
report:
  description:
    - The report model - C(generated) (UTC), C(mesh), C(ok), C(pending) (how many checks are pending), C(checks)
      (id and title of each check), C(version_window) (the fleet's lowest and highest Istio minor, C(ok), the
      clusters C(outside) the window), C(clusters) (per cluster its gateway, exports, its first 50 C(imports) and
      C(imports_count), C(revisions) as M(meshops.multicluster.mesh_check) read them, and C(results) - per check its
      C(status), C(detail) and, for a problem, the C(object) and the C(fix)), C(routes) (per exporting and importing
      cluster how many hosts, and the first 10) and C(failover) (each multi-cluster service's failover order).
    - Its size grows with the hosts plus the clusters (and the routes between clusters), not with their product.
  returned: always
  type: dict
  sample:
    generated: "2026-12-06T04:02:11Z"
    mesh: {mesh_id: mesh1, trust_domain: cluster.local}
    ok: false
    pending: 0
    checks: [{id: root, title: Same root CA}, {id: revisions, title: Revisions}, {id: gateway, title: Gateway address}]
    version_window: {ok: true, min: "1.31", max: "1.31", outside: [], unparsed: []}
    clusters:
      - name: east
        network: east
        reachable: true
        gateway: {address: 203.0.113.10, port: 15443, source: load balancer IP}
        exports: [httpbin.bar]
        imports: [{host: pay.fx.global, from: [west]}]
        imports_count: 1
        revisions:
          revisions: {1-31-0: {release: istiod-1-31-0, version: 1.31.0, ready: true, service: true,
                               in_use_by: [tag default, 12 pods, gateway istio-eastwestgateway]}}
          tags: {default: {revision: 1-31-0, ours: true}}
          default_revision: 1-31-0
          gateway: {name: istio-eastwestgateway, revision: 1-31-0, ready: true}
          namespaces: {bar: default}
          pods: {1-31-0: 12}
          dangling_webhooks: []
        results:
          root: {status: pass, detail: "root 5E:0B:7C:...:0D"}
          revisions: {status: pass, detail: "revision 1-31-0 (1.31.0)"}
          gateway: {status: fail, detail: no gateway address, object: Service istio-system/istio-eastwestgateway,
                    fix: give the Service a load balancer, or set mesh_gateway_address_override}
    routes: [{from: west, to: east, count: 1, hosts: [pay.fx.global]}]
    failover: {mode: locality, services: []}
text:
  description: The report as a console table, one line a list element.
  returned: always
  type: list
  elements: str
  sample:
    - "mesh mesh1 (trust domain cluster.local), 2026-12-06T04:02:11Z: 1 failed, 0 warnings"
    - "cluster  Same root CA  Intermediate CA  Control plane  Revisions  Gateway address  .global DNS  ServiceEntries"
    - "-------  ------------  ---------------  -------------  ---------  ---------------  -----------  --------------"
    - "east     pass          pass             pass           pass       FAIL             pass         pass"
    - "west     pass          pass             pass           pass       pass             pass         pass"
    - "FAIL east / Gateway address: no gateway address"
    - "    object: Service istio-system/istio-eastwestgateway"
    - "    fix: give the Service a load balancer, or set mesh_gateway_address_override"
    - "version window: Istio 1.31: within one minor"
    - "revision east / 1-31-0: Istio 1.31.0; ready; tags default, stable; gateway istio-eastwestgateway; 12 pods"
    - "revision west / 1-31-0: Istio 1.31.0; ready; tags default, stable; gateway istio-eastwestgateway; 9 pods"
    - "revision west / 1-30-0: Istio 1.30.0; unused: playbooks/upgrade.yml removes it"
files:
  description: Paths of the written HTML and JSON reports; empty when O(report_dir) is empty.
  returned: always
  type: list
  elements: str
  sample: [/home/ops/fleet/reports/mesh-report.html, /home/ops/fleet/reports/mesh-report.json]
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.files import write_atomic
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.checks import evaluate, failed_checks
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.report import render_html, render_text


def write_reports(report_dir, model):
    os.makedirs(report_dir, exist_ok=True)
    files = []
    for name, text in (("mesh-report.html", render_html(model)), ("mesh-report.json", json.dumps(model, indent=2))):
        path = os.path.join(report_dir, name)
        write_atomic(path, text)
        files.append(path)
    return files


def main():
    module = AnsibleModule(argument_spec=dict(
        clusters=dict(type="list", elements="dict", required=True),
        fleet=dict(type="dict", required=True),
        report_dir=dict(type="path", default=""),
        fail_on_error=dict(type="bool", default=True),
    ), supports_check_mode=True)
    model = evaluate(module.params["clusters"], module.params["fleet"])
    failed = failed_checks(model["clusters"], model["traces"])
    files = write_reports(module.params["report_dir"], model) if module.params["report_dir"] else []
    result = dict(changed=False, ok=model["ok"], failed_count=len(failed), report=model,
                  text=render_text(model).splitlines(), files=files)
    if failed and module.params["fail_on_error"]:
        fail_with(module, MeshError("the fleet check failed %d check(s): %s" % (len(failed), "; ".join(failed))), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
