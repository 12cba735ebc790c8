#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_report
short_description: Judge the fleet check and write the fleet report
version_added: 0.1.0
description:
  - Runs once, on the controller, with what the C(verify) role read from every cluster.
  - Decides pass, warn or fail for every check of every cluster (same root, intermediate CA, control
    plane, gateway address, C(.global) DNS, ServiceEntries), each failure naming the object and the fix.
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
        and from the services plan its C(services), C(gateways) (their localities), C(selection) (which
        cluster imports which host; everything when left out) and C(failover) mode, from which the report
        shows what each cluster imports and each multi-cluster service's failover order.
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
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
- name: Judge the fleet and write the report
  meshops.multicluster.mesh_report:
    clusters: "{{ ansible_play_hosts_all | map('extract', hostvars, 'mesh_verify_cluster') | list }}"
    fleet: {mesh_id: mesh1, trust_domain: cluster.local, chart_version: 1.29.0}
    report_dir: "{{ playbook_dir }}/../reports"
  run_once: true
"""

RETURN = r"""
ok:
  description: Whether every check of every cluster passed (warnings and pending checks allowed).
  returned: always
  type: bool
failed_count:
  description:
    - How many checks failed, over every cluster (warnings and pending checks not counted); the C(verify) role's
      failure says it. Not C(failed), which Ansible reads as the task's own verdict.
  returned: always
  type: int
report:
  description: The report model (clusters, checks, results with detail, object and fix).
  returned: always
  type: dict
text:
  description: The report as a console table, one line a list element.
  returned: always
  type: list
  elements: str
files:
  description: Paths of the written HTML and JSON reports.
  returned: always
  type: list
  elements: str
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
    failed = failed_checks(model["clusters"])
    files = write_reports(module.params["report_dir"], model) if module.params["report_dir"] else []
    result = dict(changed=False, ok=model["ok"], failed_count=len(failed), report=model,
                  text=render_text(model).splitlines(), files=files)
    if failed and module.params["fail_on_error"]:
        fail_with(module, MeshError("the fleet check failed %d check(s): %s" % (len(failed), "; ".join(failed))), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
