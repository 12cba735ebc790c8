"""The kubeconfig of a ServiceAccount token: when its token expires, whether it is for this server."""

import base64
import datetime
import json

from ansible_collections.meshops.multicluster.plugins.module_utils.kubeconfig import Connection
from ansible_collections.meshops.multicluster.plugins.module_utils.token_kubeconfig import (
    context_token, token_expiry, token_kubeconfig)


def jwt(claims):
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return "%s.%s.signature" % (part({"alg": "RS256"}), part(claims))


def test_token_expiry_reads_the_exp_claim():
    assert token_expiry(jwt({"exp": 1800000000})) == datetime.datetime(2027, 1, 15, 8, 0, tzinfo=datetime.timezone.utc)
    assert token_expiry(jwt({"sub": "x"})) is None
    assert token_expiry("not-a-jwt") is None
    assert token_expiry(None) is None


def test_a_written_kubeconfig_gives_back_its_token_for_its_server_only():
    connection = Connection("https://127.0.0.1:6443", ca_data="-----BEGIN CERTIFICATE-----\n", tls_server_name="api")
    config = token_kubeconfig(connection, "cluster1", "t0ken")
    assert config["current-context"] == "cluster1"
    assert config["clusters"][0]["cluster"]["tls-server-name"] == "api"
    assert base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).startswith(b"-----BEGIN")
    assert context_token(config, "cluster1", "https://127.0.0.1:6443") == "t0ken"
    assert context_token(config, "cluster1", "https://127.0.0.1:7443") is None
    assert context_token(config, "cluster2", "https://127.0.0.1:6443") is None
    assert context_token(None, "cluster1", "https://127.0.0.1:6443") is None
