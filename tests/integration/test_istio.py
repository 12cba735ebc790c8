"""What real Istio makes of the mesh the collection builds.

In the lab every istiod pod is a real pilot-discovery (run by the lab agent with the pod's own
arguments, environment and volumes); the xDS probe asks it what a sidecar or the east-west gateway
would be told, istiod's debug endpoints show its registry, and istioctl analyzes each cluster.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import ssl
import tempfile
import time
from pathlib import Path

import pytest
from cryptography import x509

from lab.istio_tools import SECURE_XDS_PORT, istioctl, istiod_debug, istiod_ip, xds
from lab.istiod import RUN_MARKER

HTTPBIN, PORT = "httpbin.bar.global", 8000


def cacerts(lab, name):
    data = lab.client(name).get("Secret", "cacerts", "istio-system")["data"]
    return {key: base64.b64decode(value) for key, value in data.items()}


def istiod_log(lab, name):
    """The log of the cluster's istiod since it last started."""
    return (lab.dir / name / "logs" / f"istio-system.{lab.istiod}.log").read_text(errors="replace").rsplit(RUN_MARKER, 1)[-1]


def served_chain(lab, name, trusted_roots: bytes) -> bytes:
    """Handshake with istiod's secure xDS port trusting only `trusted_roots`; the leaf (DER)."""
    with tempfile.NamedTemporaryFile(suffix=".pem") as roots:
        roots.write(trusted_roots)
        roots.flush()
        context = ssl.create_default_context(cafile=roots.name)
    context.set_alpn_protocols(["h2"])  # istiod's gRPC server insists on it
    with socket.create_connection((istiod_ip(name), SECURE_XDS_PORT), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname=f"{lab.istiod}.istio-system.svc") as tls:
            return tls.getpeercert(binary_form=True)


def wait_for(check, timeout=90, every=2):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
        except (OSError, ssl.SSLError, AssertionError):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            return check()
        time.sleep(every)


def cluster_of(probe, name):
    return next((c for c in probe.get("clusters", []) if c.get("name") == name), None)


def endpoints_of(cluster):
    """[(address, port, priority)] of a cluster's load assignment (inline for DNS clusters)."""
    found = []
    for group in (cluster.get("loadAssignment") or {}).get("endpoints", []):
        for lb in group.get("lbEndpoints", []):
            address = lb["endpoint"]["address"]["socketAddress"]
            found.append((address["address"], address["portValue"], group.get("priority", 0)))
    return sorted(found)


def gateway_addresses(lab):
    from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import gateway_address
    return {name: gateway_address(lab.client(name).get("Service", "istio-eastwestgateway", "istio-system"))[0]
            for name in lab.names}


def test_istiod_loads_the_plugin_ca_and_serves_a_chain_of_the_shared_root(lab, converged):
    roots = {name: cacerts(lab, name)["root-cert.pem"] for name in lab.names}
    for name in lab.names:
        log = wait_for(lambda: istiod_log(lab, name) if "Use root cert from" in istiod_log(lab, name) else None)
        # the plug-in CA, not a self-signed one
        assert "Use local CA certificate" in log and "Use self-signed certificate as the CA" not in log
        assert "Use root cert from etc/cacerts/root-cert.pem" in log
        intermediate = x509.load_pem_x509_certificate(cacerts(lab, name)["ca-cert.pem"])
        for other in lab.names:  # every other cluster's root-cert.pem verifies this istiod
            leaf = x509.load_der_x509_certificate(wait_for(lambda: served_chain(lab, name, roots[other])))
            assert leaf.issuer == intermediate.subject


def test_webhooks_are_real_and_the_gateway_pods_injected(lab, converged):
    validator_path = f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/istio-validator-{lab.revision}-istio-system"
    for name in lab.names:
        client = lab.client(name)
        validator = client.request("GET", validator_path)
        # istiod switches its validation webhook to Fail once it has checked that it answers.
        assert wait_for(lambda: client.request("GET", validator_path)["webhooks"][0]["failurePolicy"] == "Fail"), validator
        pods = client.request("GET", "/api/v1/namespaces/istio-system/pods",
                              query={"labelSelector": "app=istio-eastwestgateway"})["items"]
        assert pods and all(p["metadata"]["annotations"].get("sidecar.istio.io/status") for p in pods)
        assert all(any("proxyv2" in c["image"] for c in p["spec"]["containers"]) for p in pods)


def test_site_installs_a_revision_its_tags_point_at_and_a_second_run_changes_nothing(lab, converged, ansible_playbook):
    """What a user checks after site.yml: istiod-<rev> runs (the real one), the tags default, stable and
    canary point at <rev>, a pod of a namespace labelled istio-injection=enabled is injected by <rev>."""
    webhooks = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/"
    for name in lab.names:
        client = lab.client(name)
        assert client.get("Deployment", lab.istiod, "istio-system") is not None
        assert wait_for(lambda: istiod_debug(name, "/debug/registryz", revision=lab.revision) is not None)
        for tag in ("default", "stable", "canary"):
            labels = client.request("GET", webhooks + "istio-revision-tag-" + tag)["metadata"]["labels"]
            assert labels["istio.io/rev"] == lab.revision and labels["app.kubernetes.io/managed-by"] == "meshops.multicluster"
    client = lab.client(lab.names[0])
    client.apply({"apiVersion": "v1", "kind": "Namespace",
                  "metadata": {"name": "revision-probe", "labels": {"istio-injection": "enabled"}}})
    try:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe", "namespace": "revision-probe"},
               "spec": {"containers": [{"name": "app", "image": "busybox"}]}}
        injected = client.request("POST", "/api/v1/namespaces/revision-probe/pods", query={"dryRun": "All"},
                                  body=json.dumps(pod))
        status = json.loads(injected["metadata"]["annotations"]["sidecar.istio.io/status"])
        assert status["revision"] == lab.revision, status
    finally:
        client.delete("Namespace", "revision-probe")
    writes = lab.writes()
    again = ansible_playbook("site.yml")
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    assert lab.writes() == writes


def test_istiod_registry_holds_every_global_host_with_its_vip_and_the_remote_gateways(lab, converged):
    entry = lab.client(lab.names[1]).get("ServiceEntry", HTTPBIN, "bar")
    vip = entry["spec"]["addresses"][0]
    gateways = gateway_addresses(lab)
    for name in lab.names:
        registry = wait_for(lambda: [s for s in istiod_debug(name, "/debug/registryz") if s["hostname"] == HTTPBIN])
        assert registry[0]["defaultAddress"] == vip, registry[0]
        if name == lab.names[0]:
            continue
        shards = istiod_debug(name, "/debug/endpointShardz")
        endpoints = [ep for shard in shards[HTTPBIN]["bar"]["Shards"].values() for ep in shard]
        assert {(ep["Addresses"][0], ep["EndpointPort"]) for ep in endpoints} == {(gateways[lab.names[0]], 15443)}
        assert all(ep["TLSMode"] == "istio" for ep in endpoints)


def test_a_sidecar_is_sent_each_imported_host_to_the_gateway_with_istio_mtls(lab, converged):
    gateways = gateway_addresses(lab)
    for name in lab.names[1:]:
        probe = xds(name, namespace="default")
        cluster = cluster_of(probe, f"outbound|{PORT}||{HTTPBIN}")
        assert cluster, sorted(c["name"] for c in probe["clusters"])
        assert [(a, p) for a, p, _priority in endpoints_of(cluster)] == [(gateways[lab.names[0]], 15443)]
        # Istio mTLS as the host's DestinationRule (ISTIO_MUTUAL) asks: the SNI the gateway routes on
        tls = cluster["transportSocket"]["typedConfig"]
        assert tls["sni"] == f"outbound_.{PORT}_._.{HTTPBIN}"
        assert tls["commonTlsContext"]["alpnProtocols"][0].startswith("istio")


def test_the_exporting_gateway_passes_that_sni_through(lab, converged):
    probe = xds(lab.names[0], gateway=True)
    sni = f"outbound_.{PORT}_._.{HTTPBIN}"
    listener = next(l for l in probe["listeners"] if l["address"]["socketAddress"]["portValue"] == 15443)
    chain = next(c for c in listener["filterChains"] if sni in c.get("filterChainMatch", {}).get("serverNames", []))
    proxy = chain["filters"][-1]
    assert proxy["name"] == "envoy.filters.network.tcp_proxy" and proxy["typedConfig"]["cluster"] == sni
    assert not chain.get("transportSocket")  # passed through: the gateway does not terminate the client's mTLS


# Messages of `istioctl analyze -A` that are not about what the collection writes, with the reason.
NOT_OURS = {
    # Info: a namespace without an injection label (default; bar of the demo workload; bar in the
    # importing clusters, which the services step replicates to hold only ServiceEntries and
    # DestinationRules, no pods). Whether workloads get sidecars is the user's choice.
    "IST0102": "namespace not labelled for injection",
}


def test_istioctl_analyze_reports_nothing_caused_by_the_collection(lab, converged):
    for name in lab.names:
        proc = istioctl(name, "analyze", "--all-namespaces", "--revision", lab.revision,  # the revision installed
                        "--output", "json", "--failure-threshold", "Error")
        messages = json.loads(proc.stdout or "[]")
        assert proc.returncode == 0, (name, proc.stderr[-1500:])
        assert [m for m in messages if m["code"] not in NOT_OURS] == [], name
        assert {m["level"] for m in messages} <= {"Info"}, messages


def restarts(lab):
    """How many times the lab agent has started an istiod process."""
    return (lab.dir / "logs" / "agent.log").read_text().count("started istiod for pod")


def test_rotation_phases_are_served_by_the_running_istiod(lab, converged, ansible_playbook):
    root_dir = Path(re.search(r"mesh_ca_root_dir: (\S+)", Path(lab.inventory).read_text()).group(1))
    old_root = (root_dir / "root-cert.pem").read_bytes()
    started = restarts(lab)
    for phase in ("add-root", "switch-root"):
        run = ansible_playbook("rotate.yml", extra_vars={"mesh_ca_rotate_phase": phase})
        assert run.rc == 0, run.stdout[-4000:]
    new_root = (root_dir / "root-cert.pem").read_bytes()
    assert new_root != old_root
    for name in lab.names:
        intermediate = x509.load_pem_x509_certificate(cacerts(lab, name)["ca-cert.pem"])
        # istiod's file watcher took the new intermediate: its serving certificate now chains to the new root
        leaf = wait_for(lambda: x509.load_der_x509_certificate(served_chain(lab, name, new_root)))
        assert leaf.issuer == intermediate.subject
        assert "updated its key and certs accordingly" in istiod_log(lab, name)
    run = ansible_playbook("rotate.yml", extra_vars={"mesh_ca_rotate_phase": "drop-old-root"})
    assert run.rc == 0, run.stdout[-4000:]
    for name in lab.names:
        with pytest.raises(ssl.SSLError):  # the old root no longer verifies what istiod serves
            served_chain(lab, name, old_root)
    assert restarts(lab) == started  # no istiod was restarted


def _foreign_intermediate():
    """PEM of a CA certificate and key under a root that is not the mesh's."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc)

    def ca(subject, issuer, key, signer):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(signer, hashes.SHA256()))
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Another Root")])
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Intermediate of another root")])
    root = ca(root_name, root_name, root_key, root_key)
    cert = ca(name, root_name, key, root_key)
    pem = serialization.Encoding.PEM
    return (cert.public_bytes(pem), root.public_bytes(pem),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def test_an_intermediate_of_another_root_makes_istiod_fail_and_the_check_name_that_cluster(lab, converged,
                                                                                           ansible_playbook):
    broken = lab.names[-1]
    client = lab.client(broken)
    secret = client.get("Secret", "cacerts", "istio-system")
    cert, other_root, key = _foreign_intermediate()
    secret["data"].update({"ca-cert.pem": base64.b64encode(cert).decode(), "ca-key.pem": base64.b64encode(key).decode(),
                           "cert-chain.pem": base64.b64encode(cert + other_root).decode()})
    client.request("PUT", "/api/v1/namespaces/istio-system/secrets/cacerts", body=json.dumps(secret))
    # A new istiod pod (as after a node drain) starts with the broken Secret and fails.
    for pod in client.request("GET", "/api/v1/namespaces/istio-system/pods", query={"labelSelector": "app=istiod"})["items"]:
        client.request("DELETE", "/api/v1/namespaces/istio-system/pods/" + pod["metadata"]["name"])
    failure = wait_for(lambda: re.search(r".*(certificate signed by unknown authority|failed to create).*",
                                         istiod_log(lab, broken)))
    assert failure, istiod_log(lab, broken)[-3000:]

    run = ansible_playbook("verify.yml")
    assert run.rc != 0
    problems = [line for line in run.stdout.splitlines() if line.lstrip().startswith("FAIL ")]
    assert problems and problems[0].split()[1] == broken, problems

    repaired = ansible_playbook("trust.yml")
    assert repaired.rc == 0, repaired.stdout[-3000:]
    root = cacerts(lab, broken)["root-cert.pem"]
    assert wait_for(lambda: served_chain(lab, broken, root), timeout=150)  # istiod is back, on the repaired CA
