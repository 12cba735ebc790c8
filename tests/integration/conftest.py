"""Fixtures for tests against the lab's real API servers.

The session starts its own lab (instance 1: its own ports, address ranges, state and inventory,
so a demo lab can keep running beside it) and stops it at the end. LAB_TEST_REUSE=1 keeps it
running between pytest runs while developing. Once the lab is up, this process joins the lab's
network namespace (lab/netns.py), where its API servers, ClusterIPs and pods are: the tests' clients
and sockets, and every command they start (ansible-playbook, kubectl), run there.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from lab.cluster import enter_lab_network
from labtools import REPO, Lab, PlaybookRun, lab_command, lab_env

CLUSTERS = int(os.environ.get("LAB_TEST_CLUSTERS", "3"))


@pytest.fixture(scope="session")
def lab():
    # In-process lab helpers (lab.istio_tools) read the lab's state like the commands do.
    os.environ.update(lab_env())
    reuse = os.environ.get("LAB_TEST_REUSE") == "1"
    running = lab_command("status", check=False).returncode == 0
    if not running:
        proc = lab_command("up", "--clusters", str(CLUSTERS), check=False)
        if proc.returncode != 0:
            pytest.fail(f"lab up failed:\n{proc.stderr[-3000:]}")
    enter_lab_network()
    yield Lab()
    if not reuse:
        lab_command("down", check=False)


@pytest.fixture(scope="session")
def ansible_playbook(lab):
    def run(playbook: str, *args: str, extra_vars: dict | None = None, inventory: str | None = None,
            env: dict | None = None) -> PlaybookRun:
        path = playbook if "/" in playbook else str(REPO / "playbooks" / playbook)
        cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", inventory or lab.inventory, path, *args]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False,
                              env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                                   "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", **(env or {})})
        return PlaybookRun(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture(scope="module")
def converged(lab, ansible_playbook):
    """The whole mesh rolled out on the lab, with the demo's httpbin exported from the first cluster
    (no longer exported afterwards, so that other modules' tests see only their own exports)."""
    lab_command("demo-app")
    run = ansible_playbook("site.yml")
    assert run.rc == 0, run.stdout[-4000:]
    yield run
    lab.client(lab.names[0]).merge_patch("Service", "httpbin", "bar",
                                         {"metadata": {"labels": {"multicluster.meshops.io/export": None}}})
