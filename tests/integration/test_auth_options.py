"""kubernetes.core's connection options against a lab API server: impersonation (a ServiceAccount
with one Role is refused everything else, by our modules and by kubernetes.core's under one
module_defaults entry of the k8s group), and a proxy (a CONNECT proxy on loopback, with proxy
authentication). Basic authentication is unit-tested only: kube-apiserver has none since 1.19."""

from __future__ import annotations

import base64
import ipaddress
import secrets
import select
import socket
import socketserver
import threading

import pytest
import yaml
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import (
    Forbidden, KubeClient, KubeError)
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import managed_labels

PROXY_USER = "fleet:proxy-pw"


@pytest.fixture(scope="module")
def reader(lab):
    """A namespace with a ServiceAccount and a group that may only list its ConfigMaps: (namespace, SA user, group)."""
    admin = lab.client(lab.names[0])
    namespace, group = "auth-options-%s" % secrets.token_hex(3), "meshops-auth-readers"

    def meta(name):
        return {"name": name, "namespace": namespace, "labels": managed_labels()}

    admin.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": managed_labels()}})
    admin.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("reader")})
    admin.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta("reader"),
                 "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]})
    admin.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta("reader"),
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
                 "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace},
                              {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": group}]})
    yield namespace, "system:serviceaccount:%s:reader" % namespace, group
    admin.delete("Namespace", namespace)


def test_impersonated_service_account_may_only_what_its_role_allows(lab, reader):
    namespace, user, _group = reader
    client = KubeClient({"kubeconfig": lab.kubeconfig, "context": lab.names[0], "impersonate_user": user})
    assert client.whoami() == user
    assert client.list("ConfigMap", namespace) is not None
    with pytest.raises(Forbidden, match="cannot list resource \"secrets\""):
        client.list("Secret", namespace)


def test_impersonated_groups_grant_their_rights(lab, reader):
    namespace, _user, group = reader
    auth = {"kubeconfig": lab.kubeconfig, "context": lab.names[0], "impersonate_user": "jane@example.test"}
    assert KubeClient(dict(auth, impersonate_groups=["ops", group])).list("ConfigMap", namespace) is not None
    with pytest.raises(Forbidden):
        KubeClient(dict(auth, impersonate_groups=["ops"])).list("ConfigMap", namespace)


def play(kubeconfig, context, user, namespace):
    """One module_defaults entry of our k8s group for kubernetes.core's modules and ours, acting as `user`."""
    refused = "{0} is not failed or %r not in {0}.msg"
    return [{
        "name": "One module_defaults entry for meshops.multicluster's and kubernetes.core's modules",
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "module_defaults": {"group/meshops.multicluster.k8s": {
            "kubeconfig": kubeconfig, "context": context, "impersonate_user": user}},
        "tasks": [
            {"name": "kubernetes.core reads what the ServiceAccount may read",
             "kubernetes.core.k8s_info": {"kind": "ConfigMap", "namespace": namespace}},
            {"name": "kubernetes.core is refused the Secrets",
             "kubernetes.core.k8s_info": {"kind": "Secret", "namespace": namespace},
             "register": "secrets", "failed_when": refused.format("secrets") % "403"},
            {"name": "Our module is refused them too",
             "meshops.multicluster.helm_release_info": {"namespace": namespace, "chart_version": "1.0.0",
                                                        "releases": {"istiod": {}}},
             "register": "releases", "failed_when": refused.format("releases") % "permission missing: list secrets"},
            {"name": "Our module acts as the ServiceAccount",
             "meshops.multicluster.mesh_permissions": {"steps": ["trust"]},
             "register": "permissions", "failed_when": "permissions is not failed or permissions.user != %r" % user},
        ]}]


def test_k8s_group_module_defaults_reach_kubernetes_core_modules_impersonated(lab, reader, ansible_playbook, tmp_path):
    namespace, user, _group = reader
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play(lab.kubeconfig, lab.names[0], user, namespace)))
    run = ansible_playbook(str(playbook), inventory="localhost,")
    assert run.rc == 0, run.stdout[-3000:]
    assert run.recap["localhost"]["failed"] == 0 and run.recap["localhost"]["ok"] == 4


class ConnectProxy(socketserver.ThreadingTCPServer):
    """An HTTP CONNECT proxy on 127.0.0.1 that tunnels only to loopback addresses, wants PROXY_USER
    (407 otherwise), and keeps each CONNECT target with its headers in `tunnels`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), TunnelHandler)
        self.tunnels = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]


class TunnelHandler(socketserver.BaseRequestHandler):
    def handle(self):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {name.strip().lower(): value.strip() for name, _sep, value in (line.partition(":") for line in lines[1:])}
        self.server.tunnels.append((method, target, headers))
        host, _sep, port = target.rpartition(":")
        if method != "CONNECT" or not ipaddress.ip_address(host.strip("[]")).is_loopback:
            self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        if headers.get("proxy-authorization") != "Basic " + base64.b64encode(PROXY_USER.encode()).decode():
            self.request.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            return
        with socket.create_connection((host.strip("[]"), int(port)), timeout=10) as upstream:
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            pipe(self.request, upstream)


def pipe(client, upstream):
    """Bytes both ways until one side closes."""
    peers = {client: upstream, upstream: client}
    while True:
        readable, _w, _x = select.select(list(peers), [], [], 30)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            peers[sock].sendall(data)


@pytest.fixture
def proxy():
    server = ConnectProxy()
    yield server
    server.shutdown()
    server.server_close()


def test_requests_go_through_the_proxy_with_its_credentials(lab, proxy):
    server = lab.clusters[0]["server"]
    auth = {"kubeconfig": lab.kubeconfig, "context": lab.names[0], "proxy": proxy.url}
    client = KubeClient(dict(auth, proxy_headers={"proxy_basic_auth": PROXY_USER}))
    assert "kube-system" in {ns["metadata"]["name"] for ns in client.list("Namespace")}
    method, target, headers = proxy.tunnels[0]
    assert (method, "https://" + target) == ("CONNECT", server)
    assert "authorization" not in headers  # the client certificate travels inside the tunnel
    with pytest.raises(KubeError, match="through the proxy %s: .*407" % proxy.url):
        KubeClient(auth).list("Namespace")
    tunnels = len(proxy.tunnels)
    assert KubeClient(dict(auth, no_proxy="127.0.0.0/8")).list("Namespace")
    assert len(proxy.tunnels) == tunnels
