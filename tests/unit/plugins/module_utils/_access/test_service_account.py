"""The kubeconfig of a ServiceAccount token: when its token expires, whether it is for this server."""

import base64
import datetime
import json

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.kubeconfig import Connection
from ansible_collections.meshops.multicluster.plugins.module_utils._access.service_account import (
    reuse_verdict, token_claims, token_expiry, token_kubeconfig, token_service_account)


def jwt(claims):
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return "%s.%s.signature" % (part({"alg": "RS256"}), part(claims))


def test_token_expiry_reads_the_exp_claim():
    assert token_expiry(jwt({"exp": 1800000000})) == datetime.datetime(2027, 1, 15, 8, 0, tzinfo=datetime.timezone.utc)
    assert token_expiry(jwt({"sub": "x"})) is None
    assert token_expiry("not-a-jwt") is None
    assert token_expiry(None) is None


NOW = datetime.datetime(2026, 12, 5, tzinfo=datetime.timezone.utc)
WEEK = datetime.timedelta(days=7)
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
ACCOUNT = ("meshops-system", "meshops-operate", "uid-1")


def sa_token(namespace="meshops-system", name="meshops-operate", uid="uid-1", days=30):
    return jwt({"exp": int((NOW + datetime.timedelta(days=days)).timestamp()),
                "sub": "system:serviceaccount:%s:%s" % (namespace, name),
                "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}})


def connection(server="https://127.0.0.1:6443", ca=CA, **kwargs):
    return Connection(server, ca_data=ca, **kwargs)


def verdict(existing, desired=None, account=ACCOUNT):
    desired = desired or token_kubeconfig(connection(), "cluster1", None)
    return reuse_verdict(existing, desired, account, NOW, WEEK)


def test_token_claims_name_the_service_account_without_verifying():
    claims = token_claims(sa_token())
    assert token_service_account(claims) == ACCOUNT
    assert token_service_account({"sub": "system:serviceaccount:ns:sa"}) == ("ns", "sa", None)
    assert token_service_account({"sub": "alice"}) is None
    assert token_claims("not-a-jwt") is None and token_claims(None) is None and token_claims("a.bnVsbA.c") is None


def test_a_token_is_kept_for_the_same_server_ca_account_and_uid_with_lifetime_left():
    existing = token_kubeconfig(connection(), "cluster1", sa_token())
    expiry, reason = verdict(existing)
    assert reason is None and expiry == NOW + datetime.timedelta(days=30)


@pytest.mark.parametrize("existing, why", [
    (token_kubeconfig(connection(server="https://127.0.0.1:7443"), "cluster1", sa_token()), "the cluster"),
    (token_kubeconfig(connection(ca=CA.replace("MIIB", "MIIC")), "cluster1", sa_token()), "the cluster"),
    (token_kubeconfig(connection(ca=None), "cluster1", sa_token()), "the cluster"),
    (token_kubeconfig(connection(tls_server_name="other"), "cluster1", sa_token()), "the cluster"),
    (token_kubeconfig(connection(verify=False), "cluster1", sa_token()), "the cluster"),
    (token_kubeconfig(connection(), "cluster2", sa_token()), "no kubeconfig with the context cluster1"),
    (token_kubeconfig(connection(), "cluster1", sa_token(name="meshops-old")), "not one of the ServiceAccount"),
    (token_kubeconfig(connection(), "cluster1", sa_token(namespace="default")), "not one of the ServiceAccount"),
    (token_kubeconfig(connection(), "cluster1", sa_token(uid="uid-0")), "not one of the ServiceAccount"),
    (token_kubeconfig(connection(), "cluster1", jwt({"sub": "system:serviceaccount:meshops-system:meshops-operate",
                                                     "exp": 2000000000})), "not one of the ServiceAccount"),
    (token_kubeconfig(connection(), "cluster1", "opaque-static-token"), "not one of the ServiceAccount"),
    (token_kubeconfig(connection(), "cluster1", sa_token(days=7)), "expires within"),
    (token_kubeconfig(connection(), "cluster1", sa_token(days=-1)), "expires within"),
    (None, "no kubeconfig"),
    ({"contexts": "garbage"}, "no kubeconfig"),
])
def test_a_token_is_renewed_when_anything_but_its_text_differs(existing, why):
    expiry, reason = verdict(existing)
    assert expiry is None and why in reason, reason
    token = ((existing or {}).get("users") or [{}])[0].get("user", {}).get("token") if isinstance(existing, dict) else None
    assert not token or token not in reason


def test_a_service_account_without_a_uid_keeps_no_token():
    existing = token_kubeconfig(connection(), "cluster1", sa_token())
    assert verdict(existing, account=("meshops-system", "meshops-operate", None))[0] is None


def test_a_written_kubeconfig_holds_the_server_ca_and_token():
    connection = Connection("https://127.0.0.1:6443", ca_data="-----BEGIN CERTIFICATE-----\n", tls_server_name="api")
    config = token_kubeconfig(connection, "cluster1", "t0ken")
    assert config["current-context"] == "cluster1"
    assert config["clusters"][0]["cluster"]["tls-server-name"] == "api"
    assert base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).startswith(b"-----BEGIN")
    assert config["users"][0]["user"]["token"] == "t0ken"
