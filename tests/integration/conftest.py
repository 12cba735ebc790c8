"""Fixtures for tests against the lab's real API servers.

The session starts its own lab (instance 1: its own ports, loopback ranges, state and inventory,
so a demo lab can keep running beside it) and stops it at the end. LAB_TEST_REUSE=1 keeps it
running between pytest runs while developing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".lab-test"
LAB_ENV = {
    "LAB_INSTANCE": "1",
    "LAB_STATE_DIR": str(STATE),
    "LAB_INVENTORY_DIR": str(STATE / "inventory"),
}
CLUSTERS = int(os.environ.get("LAB_TEST_CLUSTERS", "3"))
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+"
                   r"skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)", re.M)


def lab_command(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, env={**os.environ, **LAB_ENV},
                          capture_output=True, text=True, check=check)


class Lab:
    def __init__(self):
        self.state = json.loads((STATE / "state.json").read_text())
        self.kubeconfig = self.state["kubeconfig"]
        self.inventory = str(STATE / "inventory" / "hosts.yml")
        self.clusters = [
            {"name": c["name"], "context": c["name"], "server": c["server"], "dns_ip": c["dns_ip"],
             "dns_provider": c["dns_flavour"]}
            for c in self.state["clusters_info"]
        ]
        self.names = [c["name"] for c in self.clusters]

    def client(self, name: str):
        from ansible_collections.meshops.multicluster.plugins.module_utils.k8s import KubeClient
        return KubeClient({"kubeconfig": self.kubeconfig, "context": name})

    def audit_events(self, name: str) -> list[dict]:
        path = STATE / name / "audit.log"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def write_requests(self, name: str, user_agent: str = "meshops.multicluster") -> int:
        """Write requests to the cluster so far from clients whose user agent starts with user_agent."""
        return sum(1 for e in self.audit_events(name)
                   if e.get("verb") in WRITE_VERBS and e.get("userAgent", "").startswith(user_agent))

    def all_write_requests(self, name: str) -> int:
        """Write requests by the admin user (the collection, Helm, tests), whatever the client."""
        return sum(1 for e in self.audit_events(name) if e.get("verb") in WRITE_VERBS)


@pytest.fixture(scope="session")
def lab():
    reuse = os.environ.get("LAB_TEST_REUSE") == "1"
    running = lab_command("status", check=False).returncode == 0
    if not running:
        proc = lab_command("up", "--clusters", str(CLUSTERS), check=False)
        if proc.returncode != 0:
            pytest.fail(f"lab up failed:\n{proc.stderr[-3000:]}")
    yield Lab()
    if not reuse:
        lab_command("down", check=False)


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        keys = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
        return {m.group(1): dict(zip(keys, map(int, m.groups()[1:]))) for m in RECAP.finditer(self.stdout)}

    @property
    def changed(self) -> int:
        return sum(h["changed"] for h in self.recap.values())


@pytest.fixture
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
