"""Reading a kubeconfig as kubectl does: contexts, files and data, tokens, exec credential plugins."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys

import pytest
import yaml

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import AUTH_ENV, KubeClient, KubeError
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.kubeconfig import (
    KubeconfigError, connection_from_kubeconfig, resolve)

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
NO_AUTH = dict({option: None for option in AUTH_ENV}, proxy_headers=None)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def write(tmp_path, users, clusters=None, current="east"):
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": clusters or [
            {"name": "east", "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority-data": b64(PEM)}},
            {"name": "west", "cluster": {"server": "https://127.0.0.2:6443", "certificate-authority": "ca/west.pem",
                                         "tls-server-name": "api.west", "insecure-skip-tls-verify": True}},
        ],
        "users": [{"name": name, "user": user} for name, user in users.items()],
        "contexts": [{"name": "east", "context": {"cluster": "east", "user": "east"}},
                     {"name": "west", "context": {"cluster": "west", "user": "west"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_current_context_with_embedded_certificates(tmp_path):
    path = write(tmp_path, {"east": {"client-certificate-data": b64("CERT"), "client-key-data": b64("KEY")},
                            "west": {}})
    conn = connection_from_kubeconfig(path)
    assert (conn.server, conn.ca_data, conn.verify) == ("https://127.0.0.1:6443", PEM, True)
    assert (conn.cert_data, conn.key_data, conn.token) == ("CERT", "KEY", None)


def test_named_context_files_relative_to_the_kubeconfig(tmp_path):
    (tmp_path / "west.token").write_text("s3cret\n")
    path = write(tmp_path, {"east": {}, "west": {"client-certificate": "certs/west.crt", "client-key": "/abs/west.key",
                                                 "tokenFile": "west.token"}})
    conn = connection_from_kubeconfig(path, "west")
    assert conn.ca_file == str(tmp_path / "ca" / "west.pem")
    assert (conn.cert_file, conn.key_file) == (str(tmp_path / "certs" / "west.crt"), "/abs/west.key")
    assert (conn.token, conn.verify, conn.tls_server_name) == ("s3cret", False, "api.west")


def test_settings_never_show_the_token(tmp_path):
    conn = connection_from_kubeconfig(write(tmp_path, {"east": {"token": "s3cret"}, "west": {}}))
    assert "s3cret" not in repr(conn)


@pytest.mark.parametrize("context, message", [
    ("north", "has no context named 'north'"),
    (None, "has no current-context"),
])
def test_unknown_or_missing_context_is_named(tmp_path, context, message):
    path = write(tmp_path, {"east": {}, "west": {}}, current=None)
    with pytest.raises(KubeconfigError, match=message):
        connection_from_kubeconfig(path, context)


def test_missing_file_is_explained(tmp_path):
    with pytest.raises(KubeconfigError, match="cannot read kubeconfig .*/none: No such file"):
        connection_from_kubeconfig(str(tmp_path / "none"))


def test_basic_auth_user_is_read_and_a_token_beside_it_refused(tmp_path):
    conn = connection_from_kubeconfig(write(tmp_path, {"east": {"username": "admin", "password": "pa55"}, "west": {}}))
    assert (conn.username, conn.password, conn.token) == ("admin", "pa55", None)
    path = write(tmp_path, {"east": {"username": "admin", "password": "pa55", "token": "t0ken"}, "west": {}})
    with pytest.raises(KubeconfigError, match="both a token and a username/password") as refused:
        connection_from_kubeconfig(path)
    assert "pa55" not in str(refused.value) and "t0ken" not in str(refused.value)


def plugin(tmp_path, output, code=0):
    """An exec credential plugin: prints output, and KUBERNETES_EXEC_INFO to a file beside it."""
    script = tmp_path / "bin" / "credential-plugin"
    script.parent.mkdir(exist_ok=True)
    script.write_text("#!%s\nimport os, sys\nopen(%r, 'w').write(os.environ['KUBERNETES_EXEC_INFO'] + '|' + "
                      "os.environ.get('REGION', ''))\nsys.stdout.write(%r)\nsys.exit(%d)\n"
                      % (sys.executable, str(tmp_path / "exec-info"), output, code))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return "bin/credential-plugin"


def exec_user(command, **extra):
    return {"exec": dict(apiVersion="client.authentication.k8s.io/v1", command=command, args=["token"],
                         env=[{"name": "REGION", "value": "eu-1"}], interactiveMode="Never", **extra)}


def test_exec_plugin_token_with_cluster_info(tmp_path):
    command = plugin(tmp_path, json.dumps({"kind": "ExecCredential", "status": {"token": "from-plugin"}}))
    path = write(tmp_path, {"east": exec_user(command, provideClusterInfo=True), "west": {}})
    conn = connection_from_kubeconfig(path)
    assert conn.token == "from-plugin"
    info, region = (tmp_path / "exec-info").read_text().split("|")
    info = json.loads(info)
    assert region == "eu-1"
    assert info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == "https://127.0.0.1:6443"


def test_exec_plugin_client_certificate(tmp_path):
    command = plugin(tmp_path, json.dumps({"status": {"clientCertificateData": "CERT", "clientKeyData": "KEY"}}))
    conn = connection_from_kubeconfig(write(tmp_path, {"east": exec_user(command), "west": {}}))
    assert (conn.cert_data, conn.key_data, conn.token) == ("CERT", "KEY", None)


@pytest.mark.parametrize("output, code, message", [
    ("denied", 1, "exited with 1"),
    ("not json", 0, "did not print an ExecCredential"),
    ('{"status": {}}', 0, "neither a token nor a client certificate"),
])
def test_exec_plugin_failures_are_explained(tmp_path, output, code, message):
    command = plugin(tmp_path, output, code)
    with pytest.raises(KubeconfigError, match=message):
        connection_from_kubeconfig(write(tmp_path, {"east": exec_user(command), "west": {}}))


def test_exec_plugin_not_installed_shows_the_install_hint(tmp_path):
    user = exec_user("no-such-credential-plugin", installHint="Install it with: pip install x")
    with pytest.raises(KubeconfigError, match="no-such-credential-plugin not found. Install it with"):
        connection_from_kubeconfig(write(tmp_path, {"east": user, "west": {}}))


def test_explicit_options_override_the_kubeconfig(tmp_path):
    path = write(tmp_path, {"east": {"token": "old", "client-certificate-data": b64("CERT")}, "west": {}})
    conn = resolve(dict(NO_AUTH, kubeconfig=path, api_key="new", ca_cert="/ca.pem", validate_certs=False))
    assert (conn.token, conn.ca_file, conn.ca_data, conn.verify) == ("new", "/ca.pem", None, False)
    assert conn.cert_data == "CERT"


def test_host_without_kubeconfig(tmp_path):
    conn = resolve(dict(NO_AUTH, host="https://api.example:6443", api_key="t", kubeconfig=str(tmp_path / "none")))
    assert (conn.server, conn.token, conn.verify) == ("https://api.example:6443", "t", True)


def test_client_reports_unusable_tls_files(tmp_path):
    path = write(tmp_path, {"east": {"client-certificate": "missing.crt", "client-key": "missing.key"}, "west": {}})
    with pytest.raises(KubeError, match="cannot set up TLS for https://127.0.0.1:6443"):
        KubeClient(dict(NO_AUTH, kubeconfig=path, ca_cert=os.devnull, validate_certs=False))


def test_auth_provider_users_go_through_the_kubernetes_library(tmp_path):
    # An OIDC id-token that has not expired is used as it is: no refresh, no network.
    claims = b64(json.dumps({"exp": 4102444800})).rstrip("=")
    token = "eyJhbGciOiJub25lIn0.%s.sig" % claims
    path = write(tmp_path, {"east": {"auth-provider": {"name": "oidc", "config": {
        "id-token": token, "idp-issuer-url": "https://issuer.invalid", "client-id": "k"}}}, "west": {}})
    conn = resolve(dict(NO_AUTH, kubeconfig=path))
    assert (conn.server, conn.token) == ("https://127.0.0.1:6443", token)
    assert open(conn.ca_file).read() == PEM


# Booleans are booleans (issue #20, finding 8): a quoted "false" or an unknown K8S_AUTH_VERIFY_SSL
# never turns verification off; each is refused naming the field.

from hypothesis import given, strategies as st  # noqa: E402

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import ENV_BOOLEANS, auth_params  # noqa: E402
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.kubeconfig import _flag  # noqa: E402
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import k8s_client  # noqa: E402


class FailJson(Exception):
    pass


class FakeModule:
    """What k8s_client uses of AnsibleModule."""

    def __init__(self, params):
        self.params = params
        self.check_mode = False

    def fail_json(self, msg, **kwargs):
        raise FailJson(msg)


def insecure_kubeconfig(tmp_path, value):
    return write(tmp_path, {"east": {}, "west": {}}, clusters=[
        {"name": "east", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": value}}])


@pytest.mark.parametrize("value", ["false", "true", "no", "", 0, 1, None])
def test_quoted_insecure_skip_tls_verify_is_refused(tmp_path, value):
    path = insecure_kubeconfig(tmp_path, value)
    with pytest.raises(KubeconfigError, match="insecure-skip-tls-verify of the cluster of context 'east' is .*, "
                                              "not a boolean: write true or false without quotes"):
        connection_from_kubeconfig(path)
    with pytest.raises(FailJson, match="insecure-skip-tls-verify"):
        k8s_client(FakeModule(dict(NO_AUTH, kubeconfig=path)))


@pytest.mark.parametrize("value, verify", [(True, False), (False, True)])
def test_insecure_skip_tls_verify_booleans(tmp_path, value, verify):
    assert connection_from_kubeconfig(insecure_kubeconfig(tmp_path, value)).verify is verify


@given(st.one_of(st.text(max_size=12), st.integers(), st.floats(allow_nan=False), st.lists(st.booleans(), max_size=2)))
def test_no_other_insecure_skip_tls_verify_is_read(value):
    cluster = {"insecure-skip-tls-verify": value}
    with pytest.raises(KubeconfigError, match="not a boolean"):
        _flag(cluster, "insecure-skip-tls-verify", "kubeconfig", "east")


@pytest.mark.parametrize("value", ["maybe", "off", "on", " false", "false\n", "disabled", "ｆalse"])
def test_unknown_verify_ssl_environment_value_is_refused(monkeypatch, tmp_path, value):
    monkeypatch.setenv("K8S_AUTH_VERIFY_SSL", value)
    with pytest.raises(KubeError, match="K8S_AUTH_VERIFY_SSL=.* is not a boolean"):
        auth_params(NO_AUTH)
    path = write(tmp_path, {"east": {}, "west": {}})
    with pytest.raises(FailJson, match="K8S_AUTH_VERIFY_SSL=.* is not a boolean"):
        k8s_client(FakeModule(dict(NO_AUTH, kubeconfig=path)))


@given(st.text(st.characters(blacklist_characters="\x00"), max_size=8))  # no NUL in an environment
def test_verify_ssl_environment_values_are_read_only_when_known(value):
    os.environ["K8S_AUTH_VERIFY_SSL"] = value
    try:
        if not value:  # an empty variable is unset
            assert auth_params(NO_AUTH)["validate_certs"] is None
        elif value.lower() in ENV_BOOLEANS:
            assert auth_params(NO_AUTH)["validate_certs"] is ENV_BOOLEANS[value.lower()]
        else:
            with pytest.raises(KubeError, match="K8S_AUTH_VERIFY_SSL"):
                auth_params(NO_AUTH)
    finally:
        del os.environ["K8S_AUTH_VERIFY_SSL"]


@pytest.mark.parametrize("value, verify", [("false", False), ("FALSE", False), ("0", False), ("no", False),
                                           ("true", True), ("Yes", True), ("1", True)])
def test_verify_ssl_environment_values_as_kubernetes_core_reads_them(monkeypatch, value, verify):
    monkeypatch.setenv("K8S_AUTH_VERIFY_SSL", value)
    assert auth_params(NO_AUTH)["validate_certs"] is verify


def test_validate_certs_option_must_be_a_boolean():
    with pytest.raises(KubeError, match="validate_certs='false' is not a boolean"):
        auth_params(dict(NO_AUTH, validate_certs="false"))
    assert auth_params(dict(NO_AUTH, validate_certs=False))["validate_certs"] is False


# kubeconfig as kubernetes.core takes it: a dictionary, or several files merged as kubectl merges KUBECONFIG.

def kubeconfig_doc(current, clusters, users=None):
    """A kubeconfig whose contexts are named after its clusters, each with the user of the same name."""
    return {"apiVersion": "v1", "kind": "Config", "current-context": current,
            "clusters": [{"name": name, "cluster": cluster} for name, cluster in clusters.items()],
            "users": [{"name": name, "user": user} for name, user in (users or {}).items()],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}} for name in clusters]}


def test_kubeconfig_given_as_a_dictionary():
    doc = kubeconfig_doc("east", {"east": {"server": "https://127.0.0.1:6443"}}, {"east": {"token": "t0ken"}})
    conn = resolve(dict(NO_AUTH, kubeconfig=doc))
    assert (conn.server, conn.token) == ("https://127.0.0.1:6443", "t0ken")


def test_several_kubeconfig_files_are_merged_as_kubectl_merges_them(tmp_path):
    first, second = tmp_path / "a" / "config", tmp_path / "b" / "config"
    for path, doc in ((first, kubeconfig_doc("east", {"east": {"server": "https://127.0.0.1:6443"}},
                                             {"east": {"token": "first"}})),
                      (second, kubeconfig_doc("west", {"east": {"server": "https://10.9.9.9:6443"},
                                                       "west": {"server": "https://127.0.0.2:6443",
                                                                "certificate-authority": "ca.pem"}},
                                              {"east": {"token": "second"}, "west": {"tokenFile": "token"}}))):
        path.parent.mkdir()
        path.write_text(yaml.safe_dump(doc))
    (second.parent / "token").write_text("west-token\n")
    paths = os.pathsep.join([str(first), str(tmp_path / "missing"), str(second)])
    east = resolve(dict(NO_AUTH, kubeconfig=paths))  # current-context and east: the first file's
    assert (east.server, east.token) == ("https://127.0.0.1:6443", "first")
    west = resolve(dict(NO_AUTH, kubeconfig=paths, context="west"))  # relative paths: from the second file
    assert (west.token, west.ca_file) == ("west-token", str(second.parent / "ca.pem"))


def test_kubeconfig_paths_expand_the_home_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path, {"east": {"token": "t"}, "west": {}})
    assert resolve(dict(NO_AUTH, kubeconfig="~/kubeconfig")).token == "t"


def test_kubeconfig_of_no_usable_kind_is_refused(tmp_path):
    with pytest.raises(KubeconfigError, match="none of its files exists"):
        resolve(dict(NO_AUTH, kubeconfig=os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")])))
    with pytest.raises(KubeconfigError, match="kubeconfig is a list: expected the path of a kubeconfig file"):
        resolve(dict(NO_AUTH, kubeconfig=["/a"]))
