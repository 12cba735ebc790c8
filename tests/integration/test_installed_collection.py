"""The built collection, installed as users and AWX install it, runs the mesh playbooks.

The AWX way: ansible-runner with a private data dir (env, inventory, project), credentials in
K8S_AUTH_* variables as AWX's Kubernetes credential types inject them, artifacts checked after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from labtools import REPO

sys.path.insert(0, str(REPO / "tests"))
from build_collection import build, check  # noqa: E402

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The tarball installed into a collections path of its own (kubernetes.core comes from ansible)."""
    work = tmp_path_factory.mktemp("installed")
    tarball = build(work)
    assert check(tarball) == []
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--force", "--no-deps", "-p", str(work / "collections"),
                    str(tarball)], check=True, capture_output=True)
    assert (work / "collections" / "ansible_collections" / "meshops" / "multicluster" / "MANIFEST.json").is_file()
    return work / "collections"


def runner_dir(tmp_path, lab, envvars, hosts, playbook):
    """An ansible-runner private data dir laid out as AWX lays out a job."""
    (tmp_path / "env").mkdir()
    (tmp_path / "inventory").mkdir()
    (tmp_path / "project").mkdir()
    (tmp_path / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    (tmp_path / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"mesh_clusters": {"hosts": hosts}}))
    (tmp_path / "project" / "job.yml").write_text(
        f"- name: The job template's playbook\n  ansible.builtin.import_playbook: meshops.multicluster.{playbook}\n")
    return tmp_path


def lab_hosts(lab, with_kubeconfig):
    """The lab's inventory, as an AWX inventory would carry it (the collection's variables)."""
    hosts = yaml.safe_load(Path(lab.inventory).read_text())["mesh_clusters"]
    common = {k: v for k, v in hosts["vars"].items() if with_kubeconfig or k != "mesh_kubeconfig"}
    return {name: {**common, **host_vars} for name, host_vars in hosts["hosts"].items()}


def run_job(private_dir, installed):
    """ansible-runner as AWX runs it: nothing of the repository on the way - no ansible.cfg (not in the
    working directory, no ANSIBLE_CONFIG), a home of its own, only the installed collections path."""
    home = private_dir / "home"
    home.mkdir()
    proc = subprocess.run([str(BIN / "ansible-runner"), "run", str(private_dir), "-p", "job.yml", "--ident", "job"],
                          capture_output=True, text=True, check=False, cwd=private_dir,
                          env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home),
                               "ANSIBLE_COLLECTIONS_PATH": str(installed)})
    artifacts = private_dir / "artifacts" / "job"
    events = [json.loads(p.read_text()) for p in sorted((artifacts / "job_events").glob("*.json"))]
    return proc, artifacts, events


def names_the_repository(value):
    """A path (or a PATH-like list) inside the repository. The virtualenv the tests run with may lie
    inside it (a clean clone's .venv): it is an installation, like AWX's execution environment, and
    ansible-runner's own callback plugins come from there."""
    return any(str(REPO) in part and not part.startswith(sys.prefix) for part in str(value).split(os.pathsep))


def assert_nothing_from_the_repository(artifacts, events):
    """The job ran outside the repository and no task came from it; returns the tasks' files."""
    command = json.loads((artifacts / "command").read_text())
    assert not Path(command["cwd"]).resolve().is_relative_to(REPO.resolve()), command["cwd"]
    assert not [k for k, v in command["env"].items() if k.startswith("ANSIBLE_") and names_the_repository(v)], command["env"]
    task_paths = {e["event_data"]["task_path"].rsplit(":", 1)[0] for e in events if e.get("event_data", {}).get("task_path")}
    assert not [p for p in task_paths if names_the_repository(p)], task_paths
    return task_paths


def test_site_runs_from_the_installed_collection_through_ansible_runner(lab, installed, tmp_path):
    # AWX's "Kubernetes kubeconfig" style credential: K8S_AUTH_KUBECONFIG, no path in the inventory.
    # Modules as processes of their own (AnsiballZ zips of the installed collection); the other tests
    # run them inside Ansible's workers (plugin_utils/in_worker.py).
    hosts = {name: {**host_vars, "mesh_modules_in_worker": False} for name, host_vars in lab_hosts(lab, False).items()}
    private = runner_dir(tmp_path, lab, {"K8S_AUTH_KUBECONFIG": lab.kubeconfig}, hosts, "site")
    proc, artifacts, events = run_job(private, installed)
    status = (artifacts / "status").read_text()
    assert status == "successful", (artifacts / "stdout").read_text()[-4000:]
    assert (artifacts / "rc").read_text() == "0"
    stats = next(e for e in events if e["event"] == "playbook_on_stats")
    assert not stats["event_data"]["failures"]
    # set_stats of the verify step: AWX workflows get the report.
    report = stats["event_data"]["artifact_data"]["mesh_report"]
    assert report["ok"] and {c["name"] for c in report["clusters"]} == set(lab.names)
    # The roles' tasks ran from the installed collection.
    task_paths = assert_nothing_from_the_repository(artifacts, events)
    assert [p for p in task_paths if p.startswith(f"{installed}/ansible_collections/meshops/multicluster/roles/")]


def test_awx_bearer_token_credential(lab, installed, tmp_path):
    """AWX's OpenShift/Kubernetes API Bearer Token credential: K8S_AUTH_HOST, _API_KEY, _SSL_CA_CERT."""
    from lab.build import ensure_binaries
    kubectl = [str(ensure_binaries()["kubectl"]), "--kubeconfig", lab.kubeconfig, "--context", lab.names[0]]
    subprocess.run(kubectl + ["create", "serviceaccount", "awx", "-n", "default"], capture_output=True, check=False)
    subprocess.run(kubectl + ["create", "clusterrolebinding", "awx-admin", "--clusterrole", "cluster-admin",
                              "--serviceaccount", "default:awx"], capture_output=True, check=False)
    token = subprocess.run(kubectl + ["create", "token", "awx", "-n", "default"], capture_output=True, text=True,
                           check=True).stdout.strip()
    cluster = next(c for c in lab.clusters if c["name"] == lab.names[0])
    ca = lab.dir / lab.names[0] / "pki" / "ca.crt"
    env = {"K8S_AUTH_HOST": cluster["server"], "K8S_AUTH_API_KEY": token, "K8S_AUTH_SSL_CA_CERT": str(ca),
           "K8S_AUTH_VERIFY_SSL": "true"}
    hosts = {lab.names[0]: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "job.yml").write_text("""
- name: Read the gateway with AWX's bearer token credential
  hosts: mesh_clusters
  gather_facts: false
  tasks:
    - name: Gateway address
      meshops.multicluster.mesh_gateway_info:
        cluster_name: "{{ inventory_hostname }}"
      register: gateway
    - name: Show it
      ansible.builtin.debug:
        msg: "GATEWAY {{ gateway.address }}"
""")
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "envvars").write_text(yaml.safe_dump(env))
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"mesh_clusters": {"hosts": hosts}}))
    proc, artifacts, events = run_job(tmp_path, installed)
    stdout = (artifacts / "stdout").read_text()
    assert (artifacts / "status").read_text() == "successful", stdout[-3000:]
    assert "GATEWAY 127." in stdout
    assert_nothing_from_the_repository(artifacts, events)
    assert token not in stdout and all(token not in json.dumps(e) for e in events)
