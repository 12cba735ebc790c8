"""The kubeconfig of a ServiceAccount token: when its token expires, whether it is for this server."""

import base64
import datetime
import json

import pytest
import yaml

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import Forbidden
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.kubeconfig import Connection
from ansible_collections.meshops.multicluster.plugins.module_utils._access.service_account import (
    AccountKubeconfig, reuse_verdict, token_claims, token_expiry, token_kubeconfig, token_service_account)


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


def test_the_kubeconfig_goes_through_the_proxy_this_run_used():
    proxied = token_kubeconfig(connection(proxy_url="http://127.0.0.1:3128"), "cluster1", sa_token())
    assert proxied["clusters"][0]["cluster"]["proxy-url"] == "http://127.0.0.1:3128"
    assert "proxy-url" not in token_kubeconfig(connection(), "cluster1", sa_token())["clusters"][0]["cluster"]
    # A proxy added later changes the cluster entry: the file is written again.
    assert "the cluster" in verdict(token_kubeconfig(connection(), "cluster1", sa_token()),
                                    token_kubeconfig(connection(proxy_url="http://127.0.0.1:3128"), "cluster1", None))[1]


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


class TokenClient:
    """The calls AccountKubeconfig makes: the ServiceAccount read, the TokenRequest posted."""

    def __init__(self, uid="uid-1", token=None, refuse=None, check_mode=False):
        self.connection = connection()
        self.uid, self.token, self.refuse, self.posted = uid, token or sa_token(), refuse, []
        self.check_mode = check_mode

    def get(self, kind, name, namespace=None):
        assert (kind, namespace, name) == ("ServiceAccount", "meshops-system", "meshops-operate")
        return {"metadata": {"name": name, "namespace": namespace, "uid": self.uid}} if self.uid else None

    def request(self, method, path, body=None, target=None):
        self.posted.append((method, path, json.loads(body)))
        if self.refuse:
            raise Forbidden(target, "serviceaccounts is forbidden")
        return {"status": {"token": self.token, "expirationTimestamp": "later"}}


def account_kubeconfig(tmp_path, **kwargs):
    return AccountKubeconfig("meshops-system", "meshops-operate", str(tmp_path / "operate" / "cluster1.kubeconfig"),
                             "cluster1", **kwargs)


def test_a_new_token_is_asked_for_written_0600_and_then_kept(tmp_path):
    client, hidden = TokenClient(), []
    result = account_kubeconfig(tmp_path, duration_hours=48, renew_before_hours=24).keep(client, hide=hidden.append, now=NOW)
    assert client.posted == [("POST", "/api/v1/namespaces/meshops-system/serviceaccounts/meshops-operate/token",
                              {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                               "spec": {"expirationSeconds": 48 * 3600}})]
    assert hidden == [client.token] and result["changed"] and result["reason"] == "no kubeconfig with the context cluster1"
    assert result["user"] == "system:serviceaccount:meshops-system:meshops-operate"
    assert result["expires"] == (NOW + datetime.timedelta(days=30)).isoformat()
    path = tmp_path / "operate" / "cluster1.kubeconfig"
    assert path.stat().st_mode & 0o777 == 0o600 and yaml.safe_load(path.read_text())["users"][0]["user"]["token"] == client.token
    again = TokenClient()
    assert account_kubeconfig(tmp_path).keep(again, now=NOW) == dict(changed=False, expires=result["expires"], user=result["user"],
                                                                     reason=None)
    assert again.posted == []


def test_a_re_created_service_account_gets_a_new_token(tmp_path):
    account_kubeconfig(tmp_path).keep(TokenClient(), now=NOW)
    client = TokenClient(uid="uid-2", token=sa_token(uid="uid-2"))
    result = account_kubeconfig(tmp_path).keep(client, now=NOW)
    assert result["changed"] and "uid uid-2" in result["reason"] and len(client.posted) == 1


def test_check_mode_asks_for_no_token_and_writes_no_file(tmp_path):
    client = TokenClient(check_mode=True)
    result = account_kubeconfig(tmp_path).keep(client, now=NOW)
    assert result == dict(changed=True, user="system:serviceaccount:meshops-system:meshops-operate",
                          reason="no kubeconfig with the context cluster1")
    assert client.posted == [] and not (tmp_path / "operate").exists()


def test_a_missing_service_account_is_the_reason_and_a_refused_request_fails_naming_the_user(tmp_path):
    with pytest.raises(MeshError) as caught:
        account_kubeconfig(tmp_path).keep(TokenClient(uid=None, refuse=True), now=NOW)
    assert str(caught.value).startswith("cannot get a token for system:serviceaccount:meshops-system:meshops-operate: "
                                        "permission missing: create serviceaccounts meshops-operate in namespace meshops-system")
    assert caught.value.result() == {"user": "system:serviceaccount:meshops-system:meshops-operate",
                                     "reason": "the ServiceAccount meshops-system/meshops-operate does not exist (yet)"}


def test_a_lifetime_that_renews_at_every_run_is_refused(tmp_path):
    with pytest.raises(MeshError, match="duration_hours=24 must exceed renew_before_hours=24") as caught:
        account_kubeconfig(tmp_path, duration_hours=24, renew_before_hours=24)
    assert caught.value.result() == {"user": "system:serviceaccount:meshops-system:meshops-operate"}
