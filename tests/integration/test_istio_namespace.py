"""A fleet whose control plane lives in another namespace (mesh_istio_namespace) on a lab of its own:
site.yml and verify.yml pass, everything the collection writes for the control plane is in that
namespace, and the real istiod there loads its plug-in CA and serves the mesh's hosts."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509

from lab.istio_tools import istiod_debug, xds
from labtools import SECOND_INSTANCE, Lab, lab_command

NS = "mesh-system"
SECOND = SECOND_INSTANCE


@pytest.fixture(scope="module")
def moved(ansible_playbook, tmp_path_factory):
    lab_command("down", instance=SECOND, check=False)
    started = lab_command("up", "--clusters", "2", instance=SECOND, check=False)
    assert started.returncode == 0, started.stderr[-2000:]
    second = Lab(instance=SECOND)
    lab_command("demo-app", instance=SECOND)
    run = ansible_playbook("site.yml", inventory=second.inventory, extra_vars={"mesh_istio_namespace": NS})
    yield second, run
    lab_command("down", instance=SECOND, check=False)


def test_site_and_verify_pass_with_the_control_plane_in_another_namespace(moved, ansible_playbook):
    second, run = moved
    assert run.rc == 0, run.stdout[-4000:]
    check = ansible_playbook("verify.yml", inventory=second.inventory, extra_vars={"mesh_istio_namespace": NS})
    assert check.rc == 0 and "All checks pass" in check.stdout, check.stdout[-3000:]


def test_everything_of_the_control_plane_is_in_that_namespace(moved):
    second, _run = moved
    for name in second.names:
        client = second.client(name)
        for kind, obj in (("Secret", "cacerts"), ("ConfigMap", "meshops-vips"), ("ConfigMap", "istiocoredns-records"),
                          ("Deployment", second.istiod), ("Service", "istiocoredns"), ("Gateway", "meshops-global")):
            assert client.get(kind, obj, NS) is not None, (name, kind, obj)
        assert client.get("Namespace", "istio-system") is None, name
        cert = base64.b64decode(client.get("Secret", "cacerts", NS)["data"]["ca-cert.pem"])
        sans = x509.load_pem_x509_certificate(cert).extensions.get_extension_for_class(x509.SubjectAlternativeName)
        assert sans.value.get_values_for_type(x509.DNSName) == [f"istiod.{NS}.svc"]


def test_the_real_istiod_there_uses_the_plugin_ca_and_knows_the_imported_host(moved, monkeypatch):
    second, _run = moved
    for key, value in {"LAB_INSTANCE": str(SECOND), "LAB_STATE_DIR": str(second.dir),
                       "LAB_INVENTORY_DIR": str(second.dir / "inventory")}.items():
        monkeypatch.setenv(key, value)
    log = (second.dir / second.names[0] / "logs" / f"{NS}.{second.istiod}.log").read_text()
    assert "Use local CA certificate" in log and "Use root cert from etc/cacerts/root-cert.pem" in log
    hosts = {s["hostname"] for s in istiod_debug(second.names[1], "/debug/registryz", namespace=NS)}
    assert "httpbin.bar.global" in hosts
    probe = xds(second.names[1], istio_namespace=NS)
    assert any(c["name"] == "outbound|8000||httpbin.bar.global" for c in probe["clusters"])
