"""Starting the lab's control planes: the shared etcd and, per cluster, its certificates, a real
kube-apiserver, controller manager and scheduler, kwok for its node (its kubelet server too, where the
API server forwards a pod's port-forward), the seeded kube-system objects; and waiting until a
cluster serves (Deployments Available, cluster DNS answering)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from . import seed
from .api import Api
from .config import load_versions, state_dir
from .kubeconfig import write_kubeconfig
from .pki import write_cluster_pki
from .processes import Processes, port_open, wait_until
from .state import ClusterInfo, cluster_dir, log
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.query import DnsError, query_a

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
# Access reviews ask and change nothing: not logged, so that write counts stay writes.
- level: None
  resources: [{group: authorization.k8s.io}, {group: authentication.k8s.io}]
# What the collection (and the tests) do as the admin user, and as the identities playbooks/rbac.yml
# creates (service accounts of namespace meshops-system); the components' own traffic is not logged.
- level: Metadata
  users: [lab-admin]
  verbs: [get, list, create, update, patch, delete, deletecollection]
- level: Metadata
  userGroups: ["system:serviceaccounts:meshops-system"]
  verbs: [get, list, create, update, patch, delete, deletecollection]
- level: None
"""

# kwok's PortForward kind (kwok serves a fake pod's port-forward from the PortForward of that pod's
# name): its group, names and version as kwok v0.7 reads them, the schema left open (kwok validates).
KWOK_PORTFORWARD_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "portforwards.kwok.x-k8s.io"},
    "spec": {"group": "kwok.x-k8s.io", "scope": "Namespaced",
             "names": {"kind": "PortForward", "listKind": "PortForwardList", "plural": "portforwards",
                       "singular": "portforward"},
             "versions": [{"name": "v1alpha1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]},
}

# The components that reach their API server with a kubeconfig of their own.
COMPONENT_IDENTITIES = ("controller-manager", "scheduler", "kwok", "coredns")


def cluster_api(cluster: ClusterInfo) -> Api:
    """The cluster's API server as the lab's admin."""
    return Api(cluster.server, cluster_dir(cluster.name) / "pki")


def start_etcd(procs: Processes, bins: dict[str, Path], port_base: int) -> str:
    """The one etcd every cluster keeps its objects in (each under its own prefix); returns its URL."""
    t0 = time.monotonic()
    etcd_url = f"http://127.0.0.1:{port_base}"
    procs.start("etcd", [
        str(bins["etcd"]), "--name=lab", f"--data-dir={state_dir() / 'etcd'}",
        f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
        f"--listen-peer-urls=http://127.0.0.1:{port_base + 1}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{port_base + 1}",
        f"--initial-cluster=lab=http://127.0.0.1:{port_base + 1}",
        "--unsafe-no-fsync", "--quota-backend-bytes=8589934592", "--log-level=warn",
    ], state_dir() / "logs" / "etcd.log")
    wait_until("etcd", lambda: port_open(port_base), 30, state_dir() / "logs" / "etcd.log")
    log(f"etcd up in {time.monotonic() - t0:.1f}s")
    return etcd_url


def start_control_planes(procs: Processes, bins: dict[str, Path], clusters: list[ClusterInfo], etcd_url: str) -> None:
    """Every cluster's control plane, the clusters in parallel; the first failure is raised once all
    have finished or failed."""
    errors: list[BaseException] = []

    def start_one(c: ClusterInfo) -> None:
        try:
            t = time.monotonic()
            start_control_plane(procs, bins, c, etcd_url)
            log(f"{c.name}: control plane up at {c.server} in {time.monotonic() - t:.1f}s")
        except BaseException as exc:  # reported after the join
            errors.append(exc)

    threads = [threading.Thread(target=start_one, args=(c,)) for c in clusters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def start_control_plane(procs: Processes, bins: dict[str, Path], cluster: ClusterInfo, etcd_url: str) -> None:
    write_cluster_files(cluster)
    start_apiserver(procs, bins, cluster, etcd_url)
    install_kwok_crds(cluster)
    start_controllers(procs, bins, cluster)
    seed_cluster(cluster)


def write_cluster_files(cluster: ClusterInfo) -> None:
    """The cluster's PKI, audit policy and the kubeconfigs of its components."""
    cdir, pki = cluster_dir(cluster.name), cluster_dir(cluster.name) / "pki"
    kubernetes_ip = cluster.service_cidr.replace("0.0/16", "0.1")
    write_cluster_pki(pki, cluster.name, kubernetes_ip)
    (cdir / "audit-policy.yaml").write_text(AUDIT_POLICY)
    for identity in COMPONENT_IDENTITIES:
        write_kubeconfig(cdir / f"{identity}.kubeconfig", [(cluster.name, cluster.server, pki)], identity)


def start_apiserver(procs: Processes, bins: dict[str, Path], cluster: ClusterInfo, etcd_url: str) -> None:
    """The cluster's kube-apiserver, healthy when this returns."""
    cdir, pki = cluster_dir(cluster.name), cluster_dir(cluster.name) / "pki"
    procs.start(f"{cluster.name}/kube-apiserver", [
        str(bins["kube-apiserver"]),
        f"--etcd-servers={etcd_url}", f"--etcd-prefix=/{cluster.name}",
        f"--secure-port={cluster.api_port}", "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
        "--endpoint-reconciler-type=none",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}", "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={cluster.service_cidr}", "--allow-privileged=true",
        f"--audit-policy-file={cdir / 'audit-policy.yaml'}", f"--audit-log-path={cdir / 'audit.log'}",
        "--audit-log-format=json", "--profiling=false",
        # The node's kubelet is kwok's server on 127.0.0.1 (the node's InternalIP; its name resolves nowhere).
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        f"--kubelet-certificate-authority={pki / 'ca.crt'}", "--kubelet-preferred-address-types=InternalIP",
    ], cdir / "logs" / "kube-apiserver.log")
    wait_until(f"{cluster.name} kube-apiserver ({cluster.server})", cluster_api(cluster).healthy, 90,
               cdir / "logs" / "kube-apiserver.log")


def install_kwok_crds(cluster: ClusterInfo) -> None:
    """kwok's PortForward kind, established before kwok starts (it watches it from the start)."""
    api = cluster_api(cluster)
    crd = KWOK_PORTFORWARD_CRD
    _apply_with_retry(api, crd)
    wait_until(f"{cluster.name} CRD {crd['metadata']['name']} established", lambda: _established(api, crd), 30,
               cluster_dir(cluster.name) / "logs" / "kube-apiserver.log")


def _established(api: Api, crd: dict) -> bool:
    found = api.get(crd["apiVersion"], crd["kind"], crd["metadata"]["name"]) or {}
    return any(c["type"] == "Established" and c["status"] == "True"
               for c in (found.get("status") or {}).get("conditions") or [])


def start_controllers(procs: Processes, bins: dict[str, Path], cluster: ClusterInfo) -> None:
    """The controller manager, the scheduler and kwok (the node and its pods)."""
    cdir, pki = cluster_dir(cluster.name), cluster_dir(cluster.name) / "pki"
    procs.start(f"{cluster.name}/kube-controller-manager", [
        str(bins["kube-controller-manager"]), f"--kubeconfig={cdir / 'controller-manager.kubeconfig'}",
        f"--authentication-kubeconfig={cdir / 'controller-manager.kubeconfig'}",
        f"--authorization-kubeconfig={cdir / 'controller-manager.kubeconfig'}",
        "--secure-port=0", "--leader-elect=false", "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
        f"--service-cluster-ip-range={cluster.service_cidr}", "--controllers=*,-nodeipam",
        # kwok marks pods Ready once: a node marked NotReady while its API server was stopped (a
        # failure test) or the machine was busy would leave every pod unready for good.
        "--node-monitor-grace-period=5m",
        "--profiling=false",
    ], cdir / "logs" / "kube-controller-manager.log")
    procs.start(f"{cluster.name}/kube-scheduler", [
        str(bins["kube-scheduler"]), f"--kubeconfig={cdir / 'scheduler.kubeconfig'}",
        f"--authentication-kubeconfig={cdir / 'scheduler.kubeconfig'}",
        f"--authorization-kubeconfig={cdir / 'scheduler.kubeconfig'}",
        "--secure-port=0", "--leader-elect=false", "--profiling=false",
    ], cdir / "logs" / "kube-scheduler.log")
    procs.start(f"{cluster.name}/kwok", [
        str(bins["kwok"]), f"--kubeconfig={cdir / 'kwok.kubeconfig'}", "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--cidr={cluster.pod_cidr}", "--node-ip=127.0.0.1",
        # Its kubelet server, where the API server forwards port-forwards (of the pods a PortForward
        # names: lab/istiod.py), with the node's serving certificate; --node-port fills the node's
        # daemonEndpoints.kubeletEndpoint.
        f"--server-address=127.0.0.1:{cluster.kubelet_port}", f"--node-port={cluster.kubelet_port}",
        f"--tls-cert-file={pki / 'kubelet.crt'}", f"--tls-private-key-file={pki / 'kubelet.key'}",
        "--enable-crds=PortForward",
        # A node lease keeps the node lifecycle controller from marking the node (and its pods) unready.
        "--node-lease-duration-seconds=40",
    ], cdir / "logs" / "kwok.log")


def seed_cluster(cluster: ClusterInfo) -> None:
    """What kubeadm would have created: the node, the cluster DNS of the cluster's flavour, ..."""
    coredns_tag = load_versions()["coredns"]["version"]
    api = cluster_api(cluster)
    for obj in seed.seed_objects(cluster.dns_flavour, f"{cluster.name}-node-1", cluster.dns_ip, coredns_tag,
                                 cluster.locality):
        _apply_with_retry(api, obj)


def _apply_with_retry(api: Api, obj: dict, timeout: float = 30) -> None:
    """The first writes can race the API server's own bootstrap (namespaces, RBAC)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            api.apply(obj, seed.KUBEADM_MANAGER)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def wait_until_serving(clusters: list[ClusterInfo]) -> None:
    """Every cluster's kube-system Deployments Available (the agent runs their pods), then every
    cluster DNS answering."""
    for c in clusters:
        api = cluster_api(c)
        wait_until(f"{c.name} kube-system Deployments Available", lambda: _deployments_available(api), 180,
                   cluster_dir(c.name) / "logs" / "kube-controller-manager.log")
    wait_until("cluster DNS answering", lambda: all(_cluster_dns_answers(c.dns_ip) for c in clusters), 120,
               state_dir() / "logs" / "agent.log")


def _deployments_available(api: Api) -> bool:
    try:
        items = api.list("apps/v1", "Deployment", "kube-system")
    except Exception:
        return False
    return bool(items) and all(
        any(c["type"] == "Available" and c["status"] == "True" for c in (d.get("status") or {}).get("conditions", []))
        for d in items)


def _cluster_dns_answers(ip: str) -> bool:
    try:
        return bool(query_a(ip, "kubernetes.default.svc.cluster.local", timeout=1))
    except DnsError:
        return False
