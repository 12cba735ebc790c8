"""kubernetes.core's connection options beyond kubeconfig, token and certificates: username and
password, proxy, no_proxy, proxy_headers, persist_config, impersonation - their K8S_AUTH_* variables,
the headers a client sends, the pool it sends them through, and no secret in any message."""

from __future__ import annotations

import base64
import socket

import pytest
import urllib3

from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import (
    AUTH_ARG_SPEC, PROXY_HEADERS_SPEC, k8s_client)
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import (
    AUTH_ENV, PROXY_HEADERS_ENV, KubeClient, KubeError, auth_params, request_headers)
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.kubeconfig import (
    bypasses_proxy, resolve, without_credentials)
from tests.unit.fake_api import FakeApi
from tests.unit.plugins.module_utils._k8s.test_kubeconfig import NO_AUTH, FailJson, FakeModule, b64, write

HOST = "https://127.0.0.1:6443"
SECRET = "s3cr3t-never-shown"


@pytest.fixture(autouse=True)
def no_auth_environment(monkeypatch):
    for env in list(AUTH_ENV.values()) + list(PROXY_HEADERS_ENV.values()):
        monkeypatch.delenv(env, raising=False)


class HeaderRecorder(FakeApi):
    """A FakeApi that keeps the headers of each request."""

    def __init__(self):
        super().__init__()
        self.headers = []

    def request(self, method, url, body=None, headers=None, timeout=None, retries=None):
        self.headers.append(headers)
        return super().request(method, url, body, headers, timeout, retries)


def sent_headers(**options):
    """The headers of one GET by a client of HOST with these options."""
    client = KubeClient(dict(NO_AUTH, host=HOST, **options))
    client.pool = HeaderRecorder()
    client.list("Namespace")
    return client.pool.headers[0]


def test_every_kubernetes_core_connection_option_is_in_the_argument_spec():
    # kubernetes.core 6.x AUTH_ARG_SPEC: the names a shared module_defaults entry may carry.
    assert set(AUTH_ARG_SPEC) == {
        "kubeconfig", "context", "host", "api_key", "username", "password", "validate_certs", "ca_cert",
        "client_cert", "client_key", "proxy", "no_proxy", "proxy_headers", "persist_config", "impersonate_user",
        "impersonate_groups"}
    assert AUTH_ARG_SPEC["password"]["no_log"] and AUTH_ARG_SPEC["api_key"]["no_log"]
    assert PROXY_HEADERS_SPEC["proxy_basic_auth"]["no_log"] and PROXY_HEADERS_SPEC["basic_auth"]["no_log"]
    assert set(AUTH_ENV) | {"proxy_headers"} == set(AUTH_ARG_SPEC) and set(PROXY_HEADERS_ENV) == set(PROXY_HEADERS_SPEC)


@pytest.mark.parametrize("option, env", [("username", "K8S_AUTH_USERNAME"), ("password", "K8S_AUTH_PASSWORD"),
                                         ("proxy", "K8S_AUTH_PROXY"), ("no_proxy", "K8S_AUTH_NO_PROXY"),
                                         ("impersonate_user", "K8S_AUTH_IMPERSONATE_USER")])
def test_string_options_are_read_from_their_variables(monkeypatch, option, env):
    monkeypatch.setenv(env, "from-env")
    assert auth_params({})[option] == "from-env"
    assert auth_params({option: "given"})[option] == "given"


def test_impersonate_groups_variable_is_comma_separated(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_IMPERSONATE_GROUPS", "ops,,auditors")
    assert auth_params({})["impersonate_groups"] == ["ops", "auditors"]
    assert auth_params({"impersonate_groups": ["given"]})["impersonate_groups"] == ["given"]


@pytest.mark.parametrize("value, expected", [("yes", True), ("0", False), ("", None)])
def test_persist_config_variable_is_a_strict_boolean(monkeypatch, value, expected):
    monkeypatch.setenv("K8S_AUTH_PERSIST_CONFIG", value)
    assert auth_params({})["persist_config"] is expected


def test_persist_config_refuses_what_is_not_a_boolean(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_PERSIST_CONFIG", "maybe")
    with pytest.raises(KubeError, match="K8S_AUTH_PERSIST_CONFIG='maybe' is not a boolean"):
        auth_params({})


def test_proxy_headers_variables_fill_the_unset_suboptions(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH", "env:pw")
    monkeypatch.setenv("K8S_AUTH_PROXY_HEADERS_USER_AGENT", "env/1.0")
    given = {"proxy_basic_auth": None, "basic_auth": None, "user_agent": "given/2.0"}
    assert auth_params({"proxy_headers": given})["proxy_headers"] == {
        "proxy_basic_auth": "env:pw", "basic_auth": None, "user_agent": "given/2.0"}


def test_basic_auth_header():
    headers = sent_headers(username="admin", password=SECRET)
    assert headers["Authorization"] == "Basic " + base64.b64encode(("admin:" + SECRET).encode()).decode()


def test_username_and_password_replace_the_kubeconfig_token(tmp_path):
    path = write(tmp_path, {"east": {"token": "kubeconfig-token"}, "west": {}})
    conn = resolve(auth_params(dict(NO_AUTH, kubeconfig=path, username="admin", password=SECRET)))
    assert request_headers(conn)["Authorization"].startswith("Basic ")


def test_bearer_token_and_no_basic_auth_without_username():
    assert sent_headers(api_key="t0ken")["Authorization"] == "Bearer t0ken"


@pytest.mark.parametrize("options, message", [
    ({"api_key": "t0ken", "username": "admin", "password": SECRET}, "api_key and username/password are both set"),
    ({"username": "admin"}, "needs a username and a password; password is not set"),
    ({"password": SECRET}, "needs a username and a password; username is not set"),
])
def test_half_or_double_credentials_are_refused_without_the_secret(options, message):
    module = FakeModule(dict(NO_AUTH, host=HOST, **options))
    with pytest.raises(FailJson, match=message) as refused:
        k8s_client(module)
    assert SECRET not in str(refused.value) and "t0ken" not in str(refused.value)


def test_impersonation_headers_one_per_group():
    headers = sent_headers(api_key="t", impersonate_user="system:serviceaccount:ops:reader",
                           impersonate_groups=["ops", "auditors"])
    assert headers["Impersonate-User"] == "system:serviceaccount:ops:reader"
    assert headers.getlist("Impersonate-Group") == ["ops", "auditors"]


def test_impersonation_from_the_environment(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_IMPERSONATE_USER", "jane")
    monkeypatch.setenv("K8S_AUTH_IMPERSONATE_GROUPS", "ops,auditors")
    headers = sent_headers()
    assert (headers["Impersonate-User"], headers.getlist("Impersonate-Group")) == ("jane", ["ops", "auditors"])


def test_no_impersonation_headers_by_default():
    headers = sent_headers(api_key="t")
    assert "Impersonate-User" not in headers and "Impersonate-Group" not in headers


def test_groups_without_a_user_are_refused():
    with pytest.raises(FailJson, match="impersonate_groups is set without impersonate_user"):
        k8s_client(FakeModule(dict(NO_AUTH, host=HOST, impersonate_groups=["ops"])))


def test_proxy_is_used_with_its_headers():
    client = KubeClient(dict(NO_AUTH, host=HOST, proxy="http://127.0.0.1:3128", proxy_headers={
        "proxy_basic_auth": "me:" + SECRET, "basic_auth": None, "user_agent": "fleet/1.0"}))
    assert isinstance(client.pool, urllib3.ProxyManager)
    assert (client.pool.proxy.host, client.pool.proxy.port) == ("127.0.0.1", 3128)
    assert client.pool.proxy_headers == {
        "proxy-authorization": "Basic " + base64.b64encode(("me:" + SECRET).encode()).decode(), "user-agent": "fleet/1.0"}


def test_proxy_from_the_environment_and_no_proxy_skips_it(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_PROXY", "http://127.0.0.1:3128")
    assert isinstance(KubeClient(dict(NO_AUTH, host=HOST)).pool, urllib3.ProxyManager)
    monkeypatch.setenv("K8S_AUTH_NO_PROXY", "localhost,127.0.0.0/8")
    pool = KubeClient(dict(NO_AUTH, host=HOST)).pool
    assert isinstance(pool, urllib3.PoolManager) and not isinstance(pool, urllib3.ProxyManager)


def test_no_proxy_applies_to_the_kubeconfig_proxy_url(tmp_path):
    path = write(tmp_path, {"east": {}, "west": {}}, clusters=[
        {"name": "east", "cluster": {"server": "https://api.east.example:6443", "proxy-url": "http://127.0.0.1:3128"}}])
    assert isinstance(KubeClient(dict(NO_AUTH, kubeconfig=path)).pool, urllib3.ProxyManager)
    pool = KubeClient(dict(NO_AUTH, kubeconfig=path, no_proxy=".example")).pool
    assert not isinstance(pool, urllib3.ProxyManager)


@pytest.mark.parametrize("server, no_proxy, bypassed", [
    ("https://api.east.example:6443", "example", True),
    ("https://api.east.example:6443", ".east.example", True),
    ("https://api.east.example:6443", "api.east.example:6443", True),
    ("https://api.east.example:6443", "west.example, other", False),
    ("https://10.1.2.3:6443", "10.0.0.0/8", True),
    ("https://10.1.2.3:6443", "10.1.2.3", True),
    ("https://192.168.1.1:6443", "10.0.0.0/8,localhost", False),
    ("https://[fd00::1]:6443", "fd00::/8", True),
    ("https://anything:6443", "*", True),
    ("https://anything:6443", "", False),
])
def test_no_proxy_rules(server, no_proxy, bypassed):
    assert bypasses_proxy(server, no_proxy) is bypassed


def test_credentials_in_the_proxy_url_become_proxy_authorization():
    client = KubeClient(dict(NO_AUTH, host=HOST, proxy="http://me:s%40cret@127.0.0.1:3128"))
    assert client.connection.proxy_url == "http://127.0.0.1:3128"
    assert client.pool.proxy_headers["proxy-authorization"] == "Basic " + base64.b64encode(b"me:s@cret").decode()


def test_a_proxy_urllib3_cannot_use_is_refused_without_its_credentials():
    with pytest.raises(FailJson, match="proxy socks5://127.0.0.1:1080 is not an HTTP") as refused:
        k8s_client(FakeModule(dict(NO_AUTH, host=HOST, proxy="socks5://me:%s@127.0.0.1:1080" % SECRET)))
    assert SECRET not in str(refused.value)


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_proxy_is_named_without_any_secret():
    client = KubeClient(dict(NO_AUTH, host=HOST, api_key=SECRET, proxy="http://me:%s@127.0.0.1:%d" % (SECRET, closed_port()),
                             proxy_headers={"proxy_basic_auth": "me:" + SECRET, "basic_auth": "u:" + SECRET}))
    client.timeout = 2
    with pytest.raises(KubeError, match="cannot reach the Kubernetes API at %s through the proxy http://127.0.0.1:" % HOST) \
            as refused:
        client.list("Namespace")
    assert SECRET not in str(refused.value) and SECRET not in repr(client.connection)


def test_without_credentials():
    assert without_credentials("http://u:p@proxy:3128/") == "http://proxy:3128/"
    assert without_credentials("http://proxy:3128") == "http://proxy:3128"


def test_persist_config_reaches_the_kubernetes_library_for_auth_provider_users(monkeypatch, tmp_path):
    from kubernetes import config

    seen = {}
    loader = config.load_kube_config

    def load_kube_config(**kwargs):
        seen["persist_config"] = kwargs["persist_config"]
        return loader(**kwargs)

    monkeypatch.setattr(config, "load_kube_config", load_kube_config)
    path = write(tmp_path, {"east": {"auth-provider": {"name": "oidc", "config": {
        "id-token": "eyJhbGciOiJub25lIn0.%s.sig" % b64('{"exp": 4102444800}').rstrip("="),
        "idp-issuer-url": "https://issuer.invalid", "client-id": "k"}}}, "west": {}})
    for given, passed in ((True, True), (None, False)):
        resolve(auth_params(dict(NO_AUTH, kubeconfig=path, persist_config=given)))
        assert seen["persist_config"] is passed


@pytest.mark.parametrize("args, shown", [
    ({"kubeconfig": {"users": [{"name": "u", "user": {"token": SECRET}}]}}, None),
    ({"proxy": "http://me:%s@127.0.0.1:3128" % SECRET}, None),
    ({"kubeconfig": "/etc/mesh/kubeconfig", "proxy": "http://127.0.0.1:3128"}, "/etc/mesh/kubeconfig"),
])
def test_secret_holding_values_never_reach_the_invocation_log(monkeypatch, args, shown):
    # As with key text in a key-file option: normally shown options become no_log when given secrets.
    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import k8s_module

    logged = []
    monkeypatch.setattr(basic.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    with patch_module_args(dict(args, username="admin", password=SECRET,
                                proxy_headers={"proxy_basic_auth": "me:" + SECRET, "basic_auth": "u:" + SECRET})):
        k8s_module({})
    invocation = " ".join(logged)
    assert SECRET not in invocation and "admin" in invocation
    assert shown is None or shown in invocation


def test_no_secret_in_a_failed_module_run_at_vvv(tmp_path):
    from tests.unit.plugins.module_utils._trust.test_key_files import run_verbose

    port = closed_port()
    rc, output, log = run_verbose(tmp_path, "meshops.multicluster.mesh_services_info", {
        # A kubeconfig given as a dictionary is no_log: Ansible masks each of its values in the output.
        "kubeconfig": {"current-context": "ctx-in-dict",
                       "contexts": [{"name": "ctx-in-dict", "context": {"cluster": "ctx-in-dict", "user": "ctx-in-dict"}}],
                       "clusters": [{"name": "ctx-in-dict", "cluster": {"server": "https://127.0.0.1:%d" % port}}],
                       "users": [{"name": "ctx-in-dict", "user": {"token": SECRET}}]},
        "proxy": "http://me:%s@127.0.0.1:%d" % (SECRET, port), "impersonate_user": "jane",
        "proxy_headers": {"proxy_basic_auth": "me:" + SECRET}})
    assert rc == 2 and "through the proxy http://127.0.0.1:%d" % port in output, output
    assert SECRET not in output and SECRET not in log
