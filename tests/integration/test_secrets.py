"""No key or token byte in what Ansible prints, logs or registers (issue #20, findings 5 and 6).

One playbook runs every module of the collection once against the lab's first cluster with every
secret-bearing option set - key text where a key file's path belongs, Kubernetes auth by `api_key` (a ServiceAccount token) and by a client
certificate and `client_key` file, ca_root's passphrase and key files, ca_intermediate's root key
file, the token kubeconfig - with -vvv, --diff and ANSIBLE_LOG_PATH; the test then looks for every
line of every key, every token and the passphrase in stdout/stderr, the log file and the
registered results. Modules that would change the lab's mesh run in check mode; the others write
only objects of their own (a cacerts-like Secret and a ServiceAccount in `default`), removed at the end.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
import yaml

from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
from ansible_collections.meshops.multicluster.plugins.module_utils._access.service_account import token_claims
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import managed_labels

NAMESPACE = "default"
ACCOUNT = "meshops-secrets-test"
SECRET = "meshops-secrets-test-cacerts"
PASSPHRASE = "secrets-test-passphrase-8c2e41"
# A key as `openssl pkcs12 -nocerts -nodes` prints it: headers, then the PEM.
KEY_TEXT = "Bag Attributes\n    localKeyID: 01 00 00 00\nKey Attributes: <No Attributes>\n" + pki.key_pem(
    pki.generate_key("ec")).decode()

EVERY_MODULE = """
- hosts: "{{ target }}"
  gather_facts: false
  module_defaults:
    group/meshops.multicluster.k8s:
      host: "{{ auth.host }}"
      ca_cert: "{{ auth.ca_cert }}"
      client_cert: "{{ auth.client_cert }}"
      client_key: "{{ auth.client_key }}"
      api_key: "{{ auth.api_key }}"
  tasks:
    - name: ca_root generates a root, key encrypted
      meshops.multicluster.ca_root: {path: "{{ work }}/ca", key_type: ec, passphrase: "{{ passphrase }}"}
      register: ca_root
    - name: ca_root imports it in place from its key file
      meshops.multicluster.ca_root:
        cert_file: "{{ ca_root.cert_path }}"
        key_file: "{{ ca_root.key_path }}"
        passphrase: "{{ passphrase }}"
      register: ca_root_import
    - name: ca_intermediate issues an intermediate with the root key file
      meshops.multicluster.ca_intermediate:
        cluster_name: "{{ inventory_hostname }}"
        root_cert: "{{ ca_root.cert_path }}"
        root_key: "{{ ca_root.key_path }}"
        root_passphrase: "{{ passphrase }}"
        key_type: ec
        namespace: "{{ secret_namespace }}"
        name: "{{ secret_name }}"
      register: ca_intermediate
    - name: ca_intermediate_info
      meshops.multicluster.ca_intermediate_info:
        cluster_name: "{{ inventory_hostname }}"
        root_cert: "{{ ca_root.cert_path }}"
        namespace: "{{ secret_namespace }}"
        name: "{{ secret_name }}"
      register: ca_intermediate_info
    - name: mesh_service_account_kubeconfig
      meshops.multicluster.mesh_service_account_kubeconfig:
        service_account: "{{ account }}"
        namespace: "{{ secret_namespace }}"
        path: "{{ work }}/operate.kubeconfig"
        context_name: test
      register: mesh_service_account_kubeconfig
    # Key text where a key file's path belongs: refused, and masked in the result.
    - {name: ca_root key_file given key text, register: ca_root_text, ignore_errors: true,
       meshops.multicluster.ca_root: {cert_file: "{{ ca_root.cert_path }}", key_file: "{{ key_text }}"}}
    - {name: ca_intermediate root_key given key text, register: ca_intermediate_text, ignore_errors: true,
       meshops.multicluster.ca_intermediate: {cluster_name: "{{ inventory_hostname }}", root_cert: "{{ ca_root.cert_path }}",
                                              root_key: "{{ key_text }}", name: "{{ secret_name }}",
                                              namespace: "{{ secret_namespace }}"}}
    - {name: client_key given key text, register: client_key_text, ignore_errors: true,
       meshops.multicluster.mesh_services_info: {client_key: "{{ key_text }}"}}
    # The others: each once, results kept whatever they are (the point is what they print).
    - {name: helm_release_info, register: helm_release_info, ignore_errors: true,
       meshops.multicluster.helm_release_info: {namespace: istio-system, chart_version: "0.0.0", releases: {istio-base: {}}}}
    - {name: mesh_check, register: mesh_check, ignore_errors: true, meshops.multicluster.mesh_check: {}}
    - {name: mesh_dns, register: mesh_dns, ignore_errors: true, check_mode: true,
       meshops.multicluster.mesh_dns: {target_ips: [127.0.0.53]}}
    - {name: mesh_gateway_info, register: mesh_gateway_info, ignore_errors: true,
       meshops.multicluster.mesh_gateway_info: {cluster_name: "{{ inventory_hostname }}", timeout: 1}}
    - {name: mesh_permissions, register: mesh_permissions, ignore_errors: true,
       meshops.multicluster.mesh_permissions: {steps: [services]}}
    - {name: mesh_preflight, register: mesh_preflight, ignore_errors: true,
       meshops.multicluster.mesh_preflight: {clusters: []}}
    - {name: mesh_report, register: mesh_report, ignore_errors: true, check_mode: true,
       meshops.multicluster.mesh_report: {clusters: [], fleet: {}, report_dir: "{{ work }}/reports"}}
    - {name: mesh_resources, register: mesh_resources, ignore_errors: true, check_mode: true,
       meshops.multicluster.mesh_resources: {objects: []}}
    - {name: mesh_services_info, register: mesh_services_info, ignore_errors: true,
       meshops.multicluster.mesh_services_info: {}}
    - {name: service_entry, register: service_entry, ignore_errors: true, check_mode: true,
       meshops.multicluster.service_entry: {state: absent}}
    - {name: service_entry_plan, register: service_entry_plan, ignore_errors: true,
       meshops.multicluster.service_entry_plan: {clusters: [], vip_range: 240.10.0.0/16}}
    - name: Keep every registered result for the test (copy's content is no_log)
      ansible.builtin.copy:
        dest: "{{ work }}/results.json"
        mode: "0600"
        content: "{{ dict(modules | zip(lookup('ansible.builtin.vars', *modules, wantlist=True))) | to_json }}"
      diff: false
      vars:
        modules: [ca_root, ca_root_import, ca_intermediate, ca_intermediate_info, mesh_service_account_kubeconfig,
                  ca_root_text, ca_intermediate_text, client_key_text,
                  helm_release_info, mesh_check, mesh_dns, mesh_gateway_info, mesh_permissions, mesh_preflight,
                  mesh_report, mesh_resources, mesh_services_info, service_entry, service_entry_plan]
"""

TOKEN_KUBECONFIG = """
- hosts: "{{ target }}"
  gather_facts: false
  tasks:
    - meshops.multicluster.mesh_service_account_kubeconfig:
        service_account: "{{ account }}"
        namespace: "{{ secret_namespace }}"
        path: "{{ path }}"
        context_name: test
        kubeconfig: "{{ mesh_kubeconfig }}"
        context: "{{ mesh_context }}"
"""


def pem_lines(pem):
    """The base64 lines of a PEM text: any of them in output is the key."""
    text = pem.decode() if isinstance(pem, bytes) else pem
    return [line for line in text.splitlines() if line and not line.startswith("-----") and ":" not in line]


def service_account(client, name=ACCOUNT):
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": managed_labels()}}


def request_token(client, name=ACCOUNT):
    response = client.request("POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (NAMESPACE, name),
                              body=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                               "spec": {"expirationSeconds": 3600}}))
    return response["status"]["token"]


@pytest.fixture
def test_account(lab):
    client = lab.client(lab.names[0])
    client.apply(service_account(client))
    yield client
    for kind, name in (("ServiceAccount", ACCOUNT), ("ServiceAccount", ACCOUNT + "-2"), ("Secret", SECRET)):
        client.delete(kind, name, NAMESPACE)


def auth_files(client, directory):
    """host, CA, client certificate and key files of the admin connection, and a bearer token."""
    conn = client.connection
    files = {}
    for name, path, data in (("ca_cert", conn.ca_file, conn.ca_data), ("client_cert", conn.cert_file, conn.cert_data),
                             ("client_key", conn.key_file, conn.key_data)):
        files[name] = directory / name
        files[name].write_bytes(data.encode() if data else open(path, "rb").read())
        files[name].chmod(0o600)
    return dict({k: str(v) for k, v in files.items()}, host=conn.server, api_key=request_token(client))


def play(ansible_playbook, tmp_path, name, text, variables, *args, env=None):
    (tmp_path / name).write_text(text)
    (tmp_path / ("%s.vars.json" % name)).write_text(json.dumps(variables))
    return ansible_playbook(str(tmp_path / name), "-e", "@%s" % (tmp_path / ("%s.vars.json" % name)), *args, env=env)


def test_every_module_with_every_secret_option_prints_logs_and_returns_no_secret(lab, ansible_playbook,
                                                                                 test_account, tmp_path):
    client = test_account
    work = tmp_path / "work"
    work.mkdir()
    auth = auth_files(client, tmp_path)
    log = tmp_path / "ansible.log"
    run = play(ansible_playbook, tmp_path, "every-module.yml", EVERY_MODULE,
               {"target": lab.names[0], "work": str(work), "auth": auth, "passphrase": PASSPHRASE, "account": ACCOUNT,
                "secret_namespace": NAMESPACE, "secret_name": SECRET, "key_text": KEY_TEXT},
               "-vvv", "--diff", env={"ANSIBLE_LOG_PATH": str(log)})
    assert run.rc == 0, run.stdout[-4000:]
    results = json.loads((work / "results.json").read_text())
    for name in ("ca_root", "ca_root_import", "ca_intermediate", "ca_intermediate_info", "mesh_service_account_kubeconfig"):
        assert not results[name].get("failed"), (name, results[name].get("msg"))
    assert results["ca_intermediate"]["changed"] and results["mesh_service_account_kubeconfig"]["changed"]
    for name in ("ca_root_text", "ca_intermediate_text", "client_key_text"):
        assert "holds key text, not a path" in results[name]["msg"], (name, results[name]["msg"])

    root_key_file = (work / "ca" / "root-key.pem").read_bytes()
    root_key = pki.key_pem(pki.load_key(("root", "", root_key_file), PASSPHRASE))
    cacerts = pki.decode_secret_data(client.get("Secret", SECRET, NAMESPACE))
    written_token = yaml.safe_load((work / "operate.kubeconfig").read_text())["users"][0]["user"]["token"]
    assert token_claims(written_token)["kubernetes.io"]["serviceaccount"]["name"] == ACCOUNT
    secrets = {
        "client key": pem_lines(open(auth["client_key"]).read()),
        "root key file": pem_lines(root_key_file),
        "root key": pem_lines(root_key),
        "intermediate key": pem_lines(cacerts[pki.CA_KEY]),
        "intermediate key, base64": [base64.b64encode(cacerts[pki.CA_KEY].encode()).decode()[:64]],
        "api_key": auth["api_key"].split("."),
        "written token": written_token.split("."),
        "passphrase": [PASSPHRASE],
        "key text": pem_lines(KEY_TEXT),
    }
    places = {"stdout": run.stdout, "stderr": run.stderr, "log": log.read_text(), "results": json.dumps(results)}
    assert "ca_intermediate" in places["log"] and len(places["stdout"]) > 10000, "-vvv output and the log were read"
    leaks = ["%s in %s" % (secret, place) for secret, fragments in secrets.items() for place, text in places.items()
             if any(len(fragment) >= 8 and fragment in text for fragment in fragments)]
    assert leaks == []


def test_a_token_kubeconfig_is_renewed_for_another_service_account_or_a_recreated_one(lab, ansible_playbook,
                                                                                      test_account, tmp_path):
    client = test_account
    path = tmp_path / "operate.kubeconfig"

    def run(account=ACCOUNT):
        result = play(ansible_playbook, tmp_path, "token.yml", TOKEN_KUBECONFIG,
                      {"target": lab.names[0], "account": account, "secret_namespace": NAMESPACE, "path": str(path)},
                      "-v")
        assert result.rc == 0, result.stdout[-3000:]
        token = yaml.safe_load(path.read_text())["users"][0]["user"]["token"]
        return result, token_claims(token)["kubernetes.io"]["serviceaccount"]

    first, issued = run()
    assert first.changed == 1 and issued["name"] == ACCOUNT
    kept, same = run()
    assert kept.changed == 0 and same == issued
    client.delete("ServiceAccount", ACCOUNT, NAMESPACE)
    client.apply(service_account(client))
    recreated, renewed = run()
    assert recreated.changed == 1 and renewed["uid"] != issued["uid"]
    assert "the token is not one of the ServiceAccount %s/%s" % (NAMESPACE, ACCOUNT) in recreated.text
    client.apply(service_account(client, ACCOUNT + "-2"))
    other, switched = run(ACCOUNT + "-2")
    assert other.changed == 1 and switched["name"] == ACCOUNT + "-2"
    assert not re.search(r"eyJ[\w-]{20,}", first.stdout + recreated.stdout + other.stdout), "a token was printed"
