"""A namespace the services step created in an importing cluster is deleted only while it holds
nothing of anyone else, of any kind the API server serves (issue 20, finding 1), on un-export and
on uninstall, against the lab's real API servers (as the administrator, who may list every kind).

The first cluster exports one Service from each test namespace; the step replicates the namespace
into the other clusters, where the test then puts a Secret and a ConfigMap of its own into some.
"""

from __future__ import annotations

import pytest
from services_lab import ensure_gateways, ensure_namespace, entries, run_services

from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import is_owned
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import MANAGED_BY_LABEL
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import EXPORT_LABEL

UNEXPORT_DATA = "meshops-ns-data"     # un-exported; holds a Secret and a ConfigMap of the test's
UNEXPORT_EMPTY = "meshops-ns-empty"   # un-exported; holds only ours
UNINSTALL_DATA = "meshops-ns-data2"   # uninstalled; holds a Secret and a ConfigMap of the test's
UNINSTALL_EMPTY = "meshops-ns-empty2"  # uninstalled; holds only ours
NAMESPACES = (UNEXPORT_DATA, UNEXPORT_EMPTY, UNINSTALL_DATA, UNINSTALL_EMPTY)


def export(lab, namespace, exported):
    client = lab.client(lab.names[0])
    ensure_namespace(client, namespace)
    client.apply({"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": "shop", "namespace": namespace, "labels": {EXPORT_LABEL: str(exported).lower()}},
                  "spec": {"selector": {"app": "shop"}, "ports": [{"name": "http", "port": 8000}]}})


def put_data(client, namespace):
    client.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shop-db", "namespace": namespace},
                  "stringData": {"password": "not-ours-to-lose"}})
    client.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shop-settings", "namespace": namespace},
                  "data": {"mode": "live"}})


def gone(client, namespace):
    found = client.get("Namespace", namespace)
    return found is None or found["status"].get("phase") == "Terminating"


def warnings(run):
    return " ".join((run.stdout + run.stderr).split())


@pytest.fixture(scope="module")
def runs(lab, ansible_playbook):
    """Export from every test namespace; put data into two of the replicas; un-export two; uninstall."""
    ensure_gateways(lab, ansible_playbook)
    first, *importers = lab.names
    for namespace in NAMESPACES:
        export(lab, namespace, True)
    run_services(ansible_playbook)
    for name in importers:
        client = lab.client(name)
        assert all(is_owned(client.get("Namespace", namespace)) for namespace in NAMESPACES), name
        put_data(client, UNEXPORT_DATA)
        put_data(client, UNINSTALL_DATA)
    for namespace in (UNEXPORT_DATA, UNEXPORT_EMPTY):
        export(lab, namespace, False)
    unexport = run_services(ansible_playbook)
    after_unexport = {name: {ns: lab.client(name).get("Namespace", ns) for ns in NAMESPACES} for name in importers}
    uninstall = ansible_playbook("uninstall.yml", "--tags", "services")
    assert uninstall.rc == 0, uninstall.stdout[-4000:]
    yield {"unexport": unexport, "after_unexport": after_unexport, "uninstall": uninstall}
    for name in lab.names:
        for namespace in NAMESPACES:
            lab.client(name).delete("Namespace", namespace)


def assert_kept_with_data(client, namespace, name):
    kept = client.get("Namespace", namespace)
    assert kept and kept["status"]["phase"] == "Active", (name, namespace)
    assert MANAGED_BY_LABEL not in (kept["metadata"].get("labels") or {}), (name, kept["metadata"])
    assert client.get("Secret", "shop-db", namespace)["data"] == {"password": "bm90LW91cnMtdG8tbG9zZQ=="}
    assert client.get("ConfigMap", "shop-settings", namespace)["data"] == {"mode": "live"}


def test_unexport_keeps_a_namespace_holding_a_secret_and_hands_it_over(lab, runs):
    for name in lab.names[1:]:
        assert runs["after_unexport"][name][UNEXPORT_DATA]["status"]["phase"] == "Active"
        assert_kept_with_data(lab.client(name), UNEXPORT_DATA, name)
        assert [h for h in entries(lab.client(name)) if h.endswith(".%s.global" % UNEXPORT_DATA)] == []
    text = warnings(runs["unexport"])
    assert "namespace %s was created by the services step" % UNEXPORT_DATA in text, text[-3000:]
    assert "ConfigMap shop-settings; Secret shop-db" in text
    assert "labels (app.kubernetes.io/managed-by, multicluster.meshops.io/component) removed" in text


def test_unexport_still_deletes_a_namespace_holding_only_ours(lab, runs):
    for name in lab.names[1:]:
        namespace = runs["after_unexport"][name][UNEXPORT_EMPTY]
        assert namespace is None or namespace["status"]["phase"] == "Terminating", (name, namespace)
        assert is_owned(runs["after_unexport"][name][UNINSTALL_DATA])  # still exported then


def test_uninstall_keeps_a_namespace_holding_a_secret_and_deletes_one_holding_only_ours(lab, runs):
    for name in lab.names[1:]:
        client = lab.client(name)
        assert_kept_with_data(client, UNINSTALL_DATA, name)
        assert_kept_with_data(client, UNEXPORT_DATA, name)  # no longer ours: not touched
        assert gone(client, UNINSTALL_EMPTY), name
    text = warnings(runs["uninstall"])
    assert "namespace %s was created by the services step" % UNINSTALL_DATA in text, text[-3000:]
    assert "ConfigMap shop-settings; Secret shop-db" in text
    assert "namespace %s " % UNEXPORT_DATA not in text
