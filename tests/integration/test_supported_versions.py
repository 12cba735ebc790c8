"""Versions outside what the collection supports (docs/variables.md, Supported versions): preflight
warns, in the play's output, and goes on; the lab's own versions draw no warning."""

from __future__ import annotations

from labtools import preflight_only_playbook


def test_an_unsupported_istio_version_warns_and_the_lab_kubernetes_does_not(lab, ansible_playbook):
    run = ansible_playbook(preflight_only_playbook(), extra_vars={"mesh_istio_version": "1.29.0"})
    assert run.rc == 0, run.stdout[-3000:]
    output = " ".join((run.stdout + run.stderr).split())
    assert "mesh_istio_version='1.29.0' (%s) is outside the Istio versions this collection supports, 1.30 to 1.31" % (
        ", ".join(lab.names)) in output, output[-3000:]
    # The lab's API servers are Kubernetes 1.34: inside the range, no warning.
    assert "is outside the versions this collection supports" not in output
