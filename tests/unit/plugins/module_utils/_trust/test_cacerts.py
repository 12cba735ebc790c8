"""ca_intermediate's logic in one cluster (plugins/module_utils/_trust/cacerts.py), with the real
KubeClient over a FakeApi: a new Secret (and its namespace), a valid Secret left alone, only the
root files off (the intermediate kept), removal, a Secret of others refused, and check mode, which
reports the same and sends no write."""

from __future__ import annotations

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import cacerts, crl, pki
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import resource_path
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import managed_labels
from tests.unit.fake_api import FakeApi, fake_client
from tests.unit.trust_certs import intermediate_without_crl_sign

SECRET_PATH = resource_path("Secret", "istio-system", "cacerts")
NAMESPACE_PATH = resource_path("Namespace", None, "istio-system")
ISTIO_SYSTEM = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}}


@pytest.fixture(scope="module")
def root():
    return pki.generate_root("ec")


def params(**kw):
    return dict({"namespace": "istio-system", "name": "cacerts", "cluster_name": "east", "renew_before_days": 30,
                 "force": False, "key_type": "ec", "validity_days": 365, "adopt": False, "state": "present"}, **kw)


def secret_of(data, labels=None):
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "cacerts", "namespace": "istio-system",
                         "labels": managed_labels() if labels is None else labels},
            "data": pki.encode_secret_data(data)}


def run(act, api, secret, root, check_mode=False, fleet_crl=None, **kw):
    """(result, before, after) of cacerts.present, .absent or .publish (with fleet_crl), and the client."""
    client = fake_client(api, check_mode=check_mode)
    if act is cacerts.publish:
        return act(params(**kw), client, secret, fleet_crl), client
    return act(params(**kw), client, secret, root), client


def test_present_issues_a_new_secret_and_creates_the_namespace_labelled_ours(root):
    api = FakeApi()
    (result, before, after), _client = run(cacerts.present, api, None, root)
    assert result["changed"] and result["action"] == "issued" and result["reasons"] == ["missing"] and before == {}
    assert [path for _method, path in api.writes()] == [NAMESPACE_PATH, SECRET_PATH]
    assert api.objects[NAMESPACE_PATH]["metadata"]["labels"] == managed_labels()
    data = pki.decode_secret_data(api.objects[SECRET_PATH])
    assert pki.inspect_cacerts(data, root, "east") == {} and after == pki.summary(data)
    assert pki.CA_KEY not in repr(result) and data[pki.CA_KEY] not in repr((result, after))


def test_present_leaves_a_valid_secret_alone(root):
    secret = secret_of(pki.issue_intermediate(root, "east", "ec"))
    api = FakeApi({NAMESPACE_PATH: ISTIO_SYSTEM, SECRET_PATH: secret})
    (result, before, after), client = run(cacerts.present, api, secret, root)
    assert not result["changed"] and result["action"] == "none" and result["reasons"] == []
    assert api.writes() == [] and client.requests == {"read": 0, "write": 0} and before == after


def test_present_keeps_the_intermediate_when_only_the_root_files_are_off(root):
    data = pki.issue_intermediate(root, "east", "ec")
    rotating = pki.Root(root.cert, root.key, extra=[pki.generate_root("ec").cert])  # a second root to trust
    api = FakeApi({NAMESPACE_PATH: ISTIO_SYSTEM, SECRET_PATH: secret_of(data)})
    (result, _before, _after), _client = run(cacerts.present, api, secret_of(data), rotating)
    assert result["changed"] and result["action"] == "updated" and "root bundle changed" in result["reasons"]
    written = pki.decode_secret_data(api.objects[SECRET_PATH])
    assert written[pki.CA_CERT] == data[pki.CA_CERT] and written[pki.CA_KEY] == data[pki.CA_KEY]
    assert written[pki.ROOT_CERT] == rotating.bundle_pem
    assert [method for method, _path in api.writes()] == ["PATCH"]  # the namespace exists: only the Secret


def test_absent_deletes_the_secret_and_nothing_when_there_is_none(root):
    secret = secret_of(pki.issue_intermediate(root, "east", "ec"))
    api = FakeApi({NAMESPACE_PATH: ISTIO_SYSTEM, SECRET_PATH: secret})
    (result, before, after), _client = run(cacerts.absent, api, secret, None, state="absent")
    assert result == {"changed": True, "action": "deleted", "reasons": [], "reason": ""}
    assert api.writes() == [("DELETE", SECRET_PATH)] and before["intermediate"] and after == {}
    (result, _before, _after), _client = run(cacerts.absent, api, None, None, state="absent")
    assert not result["changed"] and result["action"] == "none" and api.writes() == [("DELETE", SECRET_PATH)]


@pytest.mark.parametrize("act, state, adopt, refused", [
    (cacerts.present, "present", False, "overwrite"), (cacerts.absent, "absent", False, "delete"),
    (cacerts.absent, "absent", True, "delete"), (cacerts.present, "present", True, None)])
def test_a_secret_of_others_is_refused_unless_adopted(root, act, state, adopt, refused):
    theirs = secret_of(pki.issue_intermediate(root, "east", "ec"), labels={})
    error = cacerts.not_ours(params(state=state, adopt=adopt), theirs)
    if refused is None:
        assert error is None
        return
    assert "Secret istio-system/cacerts exists but is not managed by meshops.multicluster" in str(error)
    assert "refusing to %s it" % refused in str(error)
    assert error.result() == {"field": "adopt", "fix": "set adopt: true to take it over, or remove it yourself"}
    assert cacerts.not_ours(params(state=state, adopt=adopt), secret_of({})) is None  # ours


@pytest.mark.parametrize("state", ["present", "absent"])
def test_check_mode_reports_what_a_real_run_does_and_writes_nothing(root, state):
    data = pki.issue_intermediate(root, "west", "ec")  # the wrong cluster: re-issued, or deleted
    act, signing = (cacerts.present, root) if state == "present" else (cacerts.absent, None)
    api, real_api = FakeApi({NAMESPACE_PATH: ISTIO_SYSTEM, SECRET_PATH: secret_of(data)}), \
        FakeApi({NAMESPACE_PATH: ISTIO_SYSTEM, SECRET_PATH: secret_of(data)})
    (result, before, after), client = run(act, api, secret_of(data), signing, check_mode=True, state=state)
    (real_result, real_before, _after), _client = run(act, real_api, secret_of(data), signing, state=state)
    assert api.writes() == [] and client.requests["write"] == 0 and api.objects[SECRET_PATH] == secret_of(data)
    assert result["changed"] and result["action"] == real_result["action"] and before == real_before
    assert [(w.request.method, w.request.path) for w in client.recorded] == real_api.writes()
    if state == "present":  # a new intermediate each time: the same reasons, another key
        assert result["reasons"] == real_result["reasons"] == ["wrong cluster"]
        assert after["intermediate"]["subject"] == real_result["intermediate"]["subject"]


# --- with revocation -------------------------------------------------------------------------

STAGED_PATH = resource_path("Secret", "istio-system", "cacerts-next")
REVOCATION = dict(revocation=True, crl_days=30, crl_renew_before_days=10)


def test_revocation_stages_a_new_intermediate_and_returns_its_crl(root):
    api = FakeApi({NAMESPACE_PATH: ISTIO_SYSTEM})
    (result, _before, after), _client = run(cacerts.present, api, None, root, **REVOCATION)
    assert result["action"] == "staged" and result["staged"] and SECRET_PATH not in api.objects
    staged = pki.decode_secret_data(api.objects[STAGED_PATH])
    assert pki.inspect_cacerts(staged, root, "east") == {} and result["intermediate_cert"] == staged[pki.CA_CERT]
    [text] = result["crls"]
    cert = pki.load_certs(("c", "c", staged[pki.CA_CERT].encode()))[0]
    assert crl.signed_by(crl.load_crls("crls", text)[0], cert) and pki.CA_KEY not in repr(result)
    # a second run keeps the staged intermediate and writes nothing
    (again, _b, _a), client = run(cacerts.present, api, None, root, **REVOCATION)
    assert not again["changed"] and again["staged"] and client.requests["write"] == 0


def test_publish_then_promote(root):
    """The CRL reaches cacerts-next first, then the staged intermediate moves into cacerts; then nothing changes."""
    api = FakeApi({NAMESPACE_PATH: ISTIO_SYSTEM})
    (result, _b, _a), _client = run(cacerts.present, api, None, root, **REVOCATION)
    fleet = result["crls"][0]
    (published, _b, _a), _client = run(cacerts.publish, api, None, root, fleet_crl=fleet, promote=False)
    assert published["action"] == "updated" and SECRET_PATH not in api.objects
    assert pki.decode_secret_data(api.objects[STAGED_PATH])[crl.CA_CRL] == fleet
    client = fake_client(api)
    (promoted, _b, after) = cacerts.publish(params(promote=True, **REVOCATION), client, None, fleet)
    assert promoted["action"] == "promoted" and STAGED_PATH not in api.objects
    data = pki.decode_secret_data(api.objects[SECRET_PATH])
    assert data[crl.CA_CRL] == fleet and pki.inspect_cacerts(data, root, "east") == {}
    assert after["crl"][0]["issuer"] == "L=east,CN=Intermediate CA,O=Istio"
    secret = api.objects[SECRET_PATH]
    (again, _b, _a), client = run(cacerts.publish, api, secret, root, fleet_crl=fleet, promote=True)
    assert again["action"] == "none" and client.requests["write"] == 0
    (staging, _b, _a), client = run(cacerts.present, api, secret, root, **REVOCATION)
    assert staging["action"] == "none" and client.requests["write"] == 0 and staging["crls"] == [fleet]


def test_revocation_off_removes_the_crl_and_keeps_the_intermediate(root):
    data = dict(pki.issue_intermediate(root, "east", "ec"), **{crl.CA_CRL: "crl text"})
    staged = dict(secret_of(pki.issue_intermediate(root, "east", "ec")), metadata={
        "name": "cacerts-next", "namespace": "istio-system", "labels": managed_labels()})
    api = FakeApi({NAMESPACE_PATH: ISTIO_SYSTEM, SECRET_PATH: secret_of(data), STAGED_PATH: staged})
    (result, _b, _a), _client = run(cacerts.present, api, secret_of(data), root)
    assert result["reasons"] == ["crl removed"] and result["action"] == "updated"
    written = pki.decode_secret_data(api.objects[SECRET_PATH])
    assert crl.CA_CRL not in written and written[pki.CA_CERT] == data[pki.CA_CERT]
    assert STAGED_PATH not in api.objects  # the staged intermediate is not needed any more


def test_an_intermediate_without_crl_sign_is_replaced_through_staging(root):
    legacy = intermediate_without_crl_sign(root, "east")
    assert list(pki.inspect_cacerts(legacy, root, "east")) == ["no crl sign"]
    api = FakeApi({NAMESPACE_PATH: ISTIO_SYSTEM, SECRET_PATH: secret_of(legacy)})
    (result, _b, _a), _client = run(cacerts.present, api, secret_of(legacy), root, **REVOCATION)
    assert result["reasons"] == ["no crl sign"] and result["action"] == "staged" and len(result["crls"]) == 1
    assert pki.decode_secret_data(api.objects[SECRET_PATH]) == legacy  # cacerts untouched until promotion


def test_inspect_revocation_compares_the_fleet_file_and_istiod_s_configmap(root):
    api = FakeApi({NAMESPACE_PATH: ISTIO_SYSTEM})
    (result, _b, _a), _client = run(cacerts.present, api, None, root, **REVOCATION)
    fleet = result["crls"][0]
    client = fake_client(api)
    cacerts.publish(params(promote=True, **REVOCATION), client, None, fleet)
    data = pki.decode_secret_data(api.objects[SECRET_PATH])
    found = cacerts.inspect_revocation(client, data, "istio-system", fleet)
    # the chain's root has no CRL in this one-cluster file: missing CRL names it; no istiod yet
    assert found["crl_reasons"] == ["missing CRL"] and "CN=Root CA,O=Istio" in found["crl_reason"]
    assert found["crl_published"] is None
    configmap = resource_path("ConfigMap", "istio-system", "istio-ca-crl")
    api.objects[configmap] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio-ca-crl"},
                              "data": {"ca-crl.pem": "older"}}
    found = cacerts.inspect_revocation(client, data, "istio-system", "another file")
    assert found["crl_published"] is False and set(found["crl_reasons"]) == {"missing CRL", "not current", "not published"}


def test_a_revoked_intermediate_is_replaced_through_staging(root):
    data = pki.issue_intermediate(root, "east", "ec")
    serial = pki.summary(data)["intermediate"]["serial"]
    api = FakeApi({NAMESPACE_PATH: ISTIO_SYSTEM, SECRET_PATH: secret_of(data)})
    (result, _b, _a), _client = run(cacerts.present, api, secret_of(data), root, revoked_serials=[serial], **REVOCATION)
    assert result["reasons"] == ["revoked"] and result["action"] == "staged"
    assert result["intermediate"]["serial"] != serial
