"""mesh_revision_info on the lab's real API servers and istiods: what a user checks before and after
an upgrade. It holds for any install model: the revision checked is the one the default tag serves
(`default` for an istiod installed in place, without a revision)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from labtools import WRITE_VERBS

CHECKS = """
- name: Revisions of every cluster, read and probed in check mode
  hosts: mesh_clusters
  gather_facts: false
  check_mode: true
  module_defaults:
    group/meshops.multicluster.k8s:
      kubeconfig: "{{ mesh_kubeconfig | default(omit) }}"
      context: "{{ mesh_context | default(omit) }}"
  vars:
    namespace: "{{ mesh_istio_namespace | default('istio-system') }}"
    gateway: "{{ mesh_istio_gateway_name | default('istio-eastwestgateway') }}"
  tasks:
    - name: Read the revisions
      meshops.multicluster.mesh_revision_info:
        namespace: "{{ namespace }}"
        gateway: "{{ gateway }}"
      register: found

    - name: Probe the webhooks of the revision the default tag serves
      meshops.multicluster.mesh_revision_info:
        namespace: "{{ namespace }}"
        gateway: "{{ gateway }}"
        probe_revisions: ["{{ found.default_revision }}"]
      register: probed

    - name: The default revision runs, serves the gateway and its pods, and its webhooks answer
      vars:
        revision: "{{ found.default_revision }}"
        state: "{{ found.revisions[revision] }}"
        probe: "{{ probed.probes[revision] }}"
      ansible.builtin.assert:
        that:
          - found.default_revision is string
          - state.ready and state.service
          - state.version == mesh_istio_version
          - ('gateway ' ~ gateway) in state.in_use_by
          - found.gateway.ready
          - found.pods[revision] >= 1
          - found.dangling_webhooks == []
          - probe.injection.ok
          - probe.validation.ok
          - not found.changed and not probed.changed
        fail_msg: "revision {{ revision }}: {{ state }}; probes {{ probe }}; dangling {{ found.dangling_webhooks }}"
"""


def persisted_writes(lab):
    """{cluster: the collection's write requests that were not dry runs}."""
    return {name: sum(1 for e in lab.audit_events(name)
                      if e.get("verb") in WRITE_VERBS and e.get("userAgent", "").startswith("meshops.multicluster")
                      and "dryRun=All" not in e.get("requestURI", "")) for name in lab.names}


def test_the_default_revision_runs_and_its_webhooks_answer(lab, converged, ansible_playbook):
    playbook = Path(tempfile.mkdtemp()) / "revision_info.yml"
    playbook.write_text(CHECKS)
    before = persisted_writes(lab)
    run = ansible_playbook(str(playbook))
    assert run.rc == 0, run.stdout[-4000:]
    assert all(host["failed"] == 0 and host["changed"] == 0 for host in run.recap.values()), run.recap
    # The probes are dry runs (the API server called the webhooks and stored nothing); nothing else is written.
    assert persisted_writes(lab) == before
