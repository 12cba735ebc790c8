"""Kubeconfig users the way cloud fleets write them, against a lab API server: an exec credential
plugin (as aws eks get-token, gke-gcloud-auth-plugin, kubelogin) and embedded certificate data."""

from __future__ import annotations

import base64
import json
import stat
import sys

import yaml

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeClient


def cluster_and_user(lab, name):
    doc = yaml.safe_load(open(lab.kubeconfig))
    context = next(c["context"] for c in doc["contexts"] if c["name"] == name)
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in doc["users"] if u["name"] == context["user"])
    return cluster, user


def kubeconfig(tmp_path, cluster, user):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "fleet",
        "clusters": [{"name": "fleet", "cluster": cluster}], "users": [{"name": "fleet", "user": user}],
        "contexts": [{"name": "fleet", "context": {"cluster": "fleet", "user": "fleet"}}]}))
    return str(path)


def namespaces(path):
    client = KubeClient({"kubeconfig": str(path)})
    return {ns["metadata"]["name"] for ns in client.list("Namespace")}


def test_exec_credential_plugin_with_client_certificate(lab, tmp_path):
    cluster, user = cluster_and_user(lab, lab.names[0])
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {
        "clientCertificateData": open(user["client-certificate"]).read(),
        "clientKeyData": open(user["client-key"]).read()}}
    plugin = tmp_path / "cloud-auth-plugin"
    plugin.write_text("#!%s\nprint(%r)\n" % (sys.executable, json.dumps(credential)))
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    path = kubeconfig(tmp_path, cluster, {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                   "command": str(plugin), "interactiveMode": "Never"}})
    assert "kube-system" in namespaces(path)


def test_embedded_certificate_data(lab, tmp_path):
    cluster, user = cluster_and_user(lab, lab.names[0])

    def data(file):
        return base64.b64encode(open(file, "rb").read()).decode()

    path = kubeconfig(tmp_path, {"server": cluster["server"],
                                 "certificate-authority-data": data(cluster["certificate-authority"])},
                      {"client-certificate-data": data(user["client-certificate"]),
                       "client-key-data": data(user["client-key"])})
    assert "kube-system" in namespaces(path)
