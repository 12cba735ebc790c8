"""The module spine (plugins/module_utils/_common/module.py): fail_with turns a MeshError into
fail_json - message, field, fix, partial result, API requests - and words a 403 with the
permissions table; k8s_client builds the client in the module's check mode."""

from __future__ import annotations

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import fail_with, k8s_client
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import AUTH_ENV, Forbidden, KubeError
from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from tests.unit.fake_api import FakeApi, fake_client


class Failed(Exception):
    pass


class FakeModule:
    """What fail_with and k8s_client use of AnsibleModule: fail_json keeps its arguments."""

    def __init__(self, params=None, check_mode=False):
        self.params, self.check_mode, self.failed = params or {}, check_mode, None

    def fail_json(self, **kwargs):
        self.failed = kwargs
        raise Failed()


def failed(exc, **kwargs):
    module = FakeModule()
    with pytest.raises(Failed):
        fail_with(module, exc, **kwargs)
    return module.failed


def test_the_message_field_fix_partial_result_and_module_keys_are_returned():
    exc = MeshError("zone: 'a b' is not a DNS name", field="zone", fix="a name like global", partial={"done": ["x"]})
    assert failed(exc, secret="istio-system/cacerts") == {
        "msg": "zone: 'a b' is not a DNS name", "field": "zone", "fix": "a name like global", "done": ["x"],
        "secret": "istio-system/cacerts"}


def test_a_plain_error_returns_its_message_alone():
    assert failed(MeshError("boom")) == {"msg": "boom"}


def test_the_api_requests_made_so_far_are_returned_and_where_goes_in_front():
    client = fake_client(FakeApi())
    client.get("Secret", "cacerts", "istio-system")
    result = failed(KubeError("GET x: 500 down", status=500), client=client, where="cluster east")
    assert result == {"msg": "cluster east: GET x: 500 down", "api_requests": {"read": 1, "write": 0}}


def test_a_forbidden_is_worded_with_the_permissions_table():
    path = "/api/v1/namespaces/istio-system/secrets/cacerts"
    client = fake_client(FakeApi(forbidden=[("PATCH", path)]))
    with pytest.raises(Forbidden) as refused:
        client.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cacerts", "namespace": "istio-system"}})
    result = failed(refused.value, client=client, where="cluster east")
    assert result["msg"] == ("cluster east: permission missing: patch secrets cacerts in namespace istio-system (needed by "
                             "step trust) - the API server said: %s is forbidden. Grant the step's permissions with "
                             "playbooks/rbac.yml (docs/permissions.md)" % path)
    assert result["api_requests"] == {"read": 0, "write": 1}


@pytest.mark.parametrize("check_mode", [False, True])
def test_k8s_client_builds_the_client_in_the_modules_check_mode(monkeypatch, check_mode):
    for env in AUTH_ENV.values():
        monkeypatch.delenv(env, raising=False)
    client = k8s_client(FakeModule({"host": "https://127.0.0.1:6443", "api_key": "token"}, check_mode=check_mode))
    assert client.check_mode is check_mode and client.recorded == []


def test_k8s_client_refuses_key_text_naming_the_field(monkeypatch):
    for env in AUTH_ENV.values():
        monkeypatch.delenv(env, raising=False)
    key_text = pki.key_pem(pki.generate_key("ec")).decode()  # generated here: no key material in the repository
    module = FakeModule({"host": "https://127.0.0.1:6443", "client_key": key_text})
    with pytest.raises(Failed):
        k8s_client(module)
    body = key_text.splitlines()[1]
    assert module.failed["field"] == "client_key" and body not in repr(module.failed)
