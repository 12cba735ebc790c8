#!/usr/bin/python
# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mesh_service_account_kubeconfig
short_description: Write a kubeconfig for a ServiceAccount, with a token of bounded lifetime
version_added: 0.2.0
description:
  - Asks the API server for a token of the ServiceAccount (TokenRequest) and writes a kubeconfig
    file (mode 0600) for it - the cluster's server and CA as the module's own connection sees them,
    one context named O(context_name).
  - Keeps the file only while its token is valid for more than O(renew_before_hours) and the file
    is for the same cluster (server, CA data, TLS settings) and the same ServiceAccount - its name,
    namespace and uid, read from the token's claims; a ServiceAccount deleted and re-created has a
    new uid. Otherwise asks for a new token, and RV(reason) says why. The token never appears in
    the module's output.
  - The file holds a credential - keep it out of version control; an AWX Kubernetes credential
    takes the server, CA and token instead (docs/permissions.md).
options:
  service_account:
    description: Name of the ServiceAccount.
    type: str
    required: true
  namespace:
    description: Namespace of the ServiceAccount.
    type: str
    required: true
  path:
    description: File to write.
    type: path
    required: true
  context_name:
    description: Name of the context (and of its cluster and user) in the file.
    type: str
    required: true
  duration_hours:
    description: Lifetime of the token asked for; the API server may shorten it.
    type: int
    default: 720
  renew_before_hours:
    description: Write a new token when the current one expires within this many hours.
    type: int
    default: 168
extends_documentation_fragment:
  - meshops.multicluster.k8s_auth
attributes:
  check_mode:
    support: full
    description: Reports whether a new token would be written; asks for none.
  diff_mode:
    support: none
    description: The file holds a credential; no diff is shown.
  idempotent:
    support: full
    description: Keeps the file while its token is valid for more than O(renew_before_hours), for the same cluster and ServiceAccount.
author:
  - meshops developers (@meshops)
"""

EXAMPLES = r"""
- name: Kubeconfig of the operate identity
  meshops.multicluster.mesh_service_account_kubeconfig:
    service_account: meshops-operate
    namespace: meshops-system
    path: "{{ playbook_dir }}/operate/{{ inventory_hostname }}.kubeconfig"
    context_name: "{{ mesh_context | default(inventory_hostname) }}"
"""

RETURN = r"""
expires:
  description: When the token in the file expires (UTC, ISO 8601).
  returned: success
  type: str
  sample: "2027-01-01T12:00:00+00:00"
reason:
  description: Why a new token was (in check mode, would be) written; null when the file was kept.
  returned: always
  type: str
  sample: the token is not one of the ServiceAccount meshops-system/meshops-operate (uid 0b9c...)
user:
  description: The user name of the ServiceAccount.
  returned: always
  type: str
  sample: system:serviceaccount:meshops-system:meshops-operate
"""

import datetime
import json
import os

from ansible_collections.meshops.multicluster.plugins.module_utils._common.files import read_file, write_atomic
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.module import k8s_client, k8s_module
from ansible_collections.meshops.multicluster.plugins.module_utils._access.service_account import (
    reuse_verdict, token_expiry, token_kubeconfig)

try:
    import yaml
except ImportError:  # reported by k8s_client through missing_required_lib
    yaml = None


def read_yaml(path):
    try:
        return yaml.safe_load(read_file(path) or b"")
    except yaml.YAMLError:
        return None


def read_ca(connection):
    if connection.ca_data or not connection.ca_file:
        return None
    return read_file(connection.ca_file)


def main():
    module = k8s_module(dict(
        service_account=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        path=dict(type="path", required=True),
        context_name=dict(type="str", required=True),
        duration_hours=dict(type="int", default=720),
        renew_before_hours=dict(type="int", default=168),
    ), supports_check_mode=True)
    p = module.params
    user = "system:serviceaccount:%s:%s" % (p["namespace"], p["service_account"])
    if p["duration_hours"] <= p["renew_before_hours"]:
        module.fail_json(msg="duration_hours=%d must exceed renew_before_hours=%d, or every run writes a new token"
                         % (p["duration_hours"], p["renew_before_hours"]), user=user)
    client = k8s_client(module)
    try:
        account = client.get("ServiceAccount", p["service_account"], p["namespace"])
    except KubeError as exc:
        module.fail_json(msg="cannot read the ServiceAccount %s/%s: %s" % (p["namespace"], p["service_account"], exc),
                         user=user)
    identity = (p["namespace"], p["service_account"], (account or {}).get("metadata", {}).get("uid"))
    ca = read_ca(client.connection)
    desired = token_kubeconfig(client.connection, p["context_name"], None, ca)
    now = datetime.datetime.now(datetime.timezone.utc)
    if account is None:
        expiry, reason = None, "the ServiceAccount %s/%s does not exist (yet)" % identity[:2]
    else:
        expiry, reason = reuse_verdict(read_yaml(p["path"]), desired, identity, now,
                                       datetime.timedelta(hours=p["renew_before_hours"]))
    if expiry:
        module.exit_json(changed=False, expires=expiry.isoformat(), user=user, reason=None)
    if module.check_mode:
        module.exit_json(changed=True, user=user, reason=reason)
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"expirationSeconds": p["duration_hours"] * 3600}}
    try:
        response = client.request("POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token"
                                  % (p["namespace"], p["service_account"]), body=json.dumps(request))
    except KubeError as exc:
        module.fail_json(msg="cannot get a token for %s: %s" % (user, exc), user=user, reason=reason)
    token = response["status"]["token"]
    module.no_log_values.add(token)  # masked in anything the module returns, should it ever slip in
    os.makedirs(os.path.dirname(os.path.abspath(p["path"])), mode=0o700, exist_ok=True)
    text = yaml.safe_dump(token_kubeconfig(client.connection, p["context_name"], token, ca))
    write_atomic(p["path"], text, mode=0o600)
    expiry = token_expiry(token)
    module.exit_json(changed=True, expires=expiry.isoformat() if expiry else None, user=user, reason=reason)


if __name__ == "__main__":
    main()
