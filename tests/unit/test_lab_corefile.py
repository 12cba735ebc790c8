"""The lab's runtime copy of a Corefile: bound to the ClusterIP, never forwarding off the machine."""

from pathlib import Path

from lab.agent import NO_UPSTREAM, corefile_for_kube_dns, corefile_for_lab
from lab.seed import KUBEADM_COREFILE

MESH_BLOCK = """# BEGIN meshops.multicluster global
global:53 {
    errors
    cache 30
    forward . 127.101.12.7
}
# END meshops.multicluster global
"""


def test_kubeadm_corefile_is_bound_and_kept_local():
    out = corefile_for_lab(KUBEADM_COREFILE + MESH_BLOCK, "127.101.0.10", {}, Path("/k/cfg"), "cluster1")
    assert out.count("bind 127.101.0.10") == 2  # one per server block
    assert "/etc/resolv.conf" not in out and f"forward . {NO_UPSTREAM}" in out
    assert "kubeconfig /k/cfg cluster1" in out
    assert "health 127.101.0.10:8080 {" in out and "ready 127.101.0.10:8181" in out
    assert "prometheus 127.101.0.10:9153" in out
    assert "forward . 127.101.12.7" in out  # the collection's block is served as written


def test_mount_paths_map_to_the_lab_files():
    corefile = "global:53 {\n    hosts /etc/coredns/records/global.hosts global\n}\n"
    out = corefile_for_lab(corefile, "127.1.2.3", {"/etc/coredns/records": Path("/lab/records")}, Path("k"), "c")
    assert "hosts /lab/records/global.hosts global" in out


def test_kube_dns_stub_domains_become_server_blocks():
    cm = {"data": {"stubDomains": '{"global": ["127.101.12.7"], "corp.example": ["127.0.0.5"]}'}}
    out = corefile_for_kube_dns(cm, "127.101.0.10", Path("k"), "c")
    assert "global:53 {\n    bind 127.101.0.10\n    errors\n    forward . 127.101.12.7\n}" in out
    assert "corp.example:53" in out and f"forward . {NO_UPSTREAM}" in out
