"""Handles on the lab instances the integration tests use (shared by conftest and the tests)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".lab-test"


# The session's lab; LAB_TEST_INSTANCE picks another while a CI run holds instance 1.
SESSION_INSTANCE = int(os.environ.get("LAB_TEST_INSTANCE", "1"))
# The second lab some tests start (LAB_TEST_SECOND_INSTANCE: another one while instance 3 is taken).
SECOND_INSTANCE = int(os.environ.get("LAB_TEST_SECOND_INSTANCE", "3"))


def lab_env(instance: int = SESSION_INSTANCE) -> dict[str, str]:
    """Instance 1 is the session's lab; 3 a second one some tests start (0 is the demo's, 2 the benchmarks')."""
    state = STATE if instance == 1 else REPO / f".lab-test{instance}"
    return {"LAB_INSTANCE": str(instance), "LAB_STATE_DIR": str(state), "LAB_INVENTORY_DIR": str(state / "inventory")}


WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
# Connections to a pod, authorized as a create where they are a POST (SPDY) and in Kubernetes 1.35 also
# as a websocket: they store no object, so they count as reads (the trace's port-forward to istiod).
CONNECT_SUBRESOURCES = {"portforward"}
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+"
                   r"skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)", re.M)


def lab_command(*args: str, check: bool = True, instance: int = SESSION_INSTANCE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, env={**os.environ, **lab_env(instance)},
                          capture_output=True, text=True, check=check)


class Lab:
    def __init__(self, instance: int = SESSION_INSTANCE):
        self.instance = instance
        self.dir = Path(lab_env(instance)["LAB_STATE_DIR"])
        self.state = json.loads((self.dir / "state.json").read_text())
        self.kubeconfig = self.state["kubeconfig"]
        self.inventory = str(self.dir / "inventory" / "hosts.yml")
        self.clusters = [
            {"name": c["name"], "context": c["name"], "server": c["server"], "dns_ip": c["dns_ip"],
             "dns_provider": c["dns_flavour"]}
            for c in self.state["clusters_info"]
        ]
        self.names = [c["name"] for c in self.clusters]

    @property
    def revision(self) -> str:
        """The revision site.yml installs: the one the inventory's mesh_istio_version gets by default."""
        from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import (
            revision_of_version)
        return revision_of_version(re.search(r"mesh_istio_version: \"?([^\s\"]+)", Path(self.inventory).read_text()).group(1))

    @property
    def istiod(self) -> str:
        """Helm release, Deployment and Service of the revision's istiod (istiod-<revision>)."""
        from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import istiod_name
        return istiod_name(self.revision)

    def client(self, name: str):
        from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeClient
        return KubeClient({"kubeconfig": self.kubeconfig, "context": name})

    def audit_events(self, name: str) -> list[dict]:
        path = self.dir / name / "audit.log"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def write_requests(self, name: str, user_agent: str = "meshops.multicluster") -> int:
        """Write requests to the cluster so far from clients whose user agent starts with user_agent."""
        return sum(1 for e in self.audit_events(name)
                   if e.get("verb") in WRITE_VERBS and e.get("userAgent", "").startswith(user_agent)
                   and (e.get("objectRef") or {}).get("subresource") not in CONNECT_SUBRESOURCES)

    def writes(self, user_agent: str = "meshops.multicluster") -> dict[str, int]:
        """write_requests of every cluster (user_agent "" counts every client of the admin user)."""
        return {name: self.write_requests(name, user_agent) for name in self.names}


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
    def text(self) -> str:
        """stdout with whitespace folded: messages wrapped by the YAML callback read as one line."""
        return " ".join(self.stdout.split())

    @property
    def changed(self) -> int:
        return sum(h["changed"] for h in self.recap.values())


def preflight_only_playbook(tasks: str = "") -> str:
    """The path of a play that runs only the preflight role (its permission check off) on mesh_clusters,
    then `tasks` (YAML task entries, indented as play keys' items)."""
    path = Path(tempfile.mkdtemp()) / "preflight.yml"
    path.write_text("""
- name: Preflight only
  hosts: mesh_clusters
  gather_facts: false
  roles:
    - role: meshops.multicluster.preflight
      vars:
        mesh_preflight_check_permissions: false
""" + ("  tasks:\n" + tasks if tasks else ""))
    return str(path)
