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


def test_server_blocks_imported_from_coredns_custom_are_inlined_and_bound(tmp_path):
    """k3s: coredns-custom mounted at /etc/coredns/custom, nested in the Corefile's mount."""
    files, custom = tmp_path / "files" / "etc" / "coredns", tmp_path / "files" / "etc" / "coredns" / "custom"
    custom.mkdir(parents=True)
    (custom / "global.server").write_text(MESH_BLOCK)
    (custom / "a.server").write_text("example.org {\n    whoami\n}")
    (custom / "x.override").write_text("log\n")
    corefile = KUBEADM_COREFILE.replace("    loop\n", "    loop\n    import /etc/coredns/custom/*.override\n")
    corefile += "import /etc/coredns/custom/*.server\n"
    out = corefile_for_lab(corefile, "127.101.0.10", {"/etc/coredns": files, "/etc/coredns/custom": custom},
                           Path("k"), "c")
    assert out.count("bind 127.101.0.10") == 3
    assert out.index("example.org {") < out.index("global:53 {")  # sorted, as CoreDNS globs
    assert f"    import {custom}/*.override\n" in out  # directives stay imported
    assert "import /etc" not in out and f"import {custom}/*.server" not in out
