# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module shares: the auth options, building the client, and turning a MeshError into fail_json.

The spine of a module: build the client with k8s_client(module) (check mode is the client's: it
records writes instead of sending them), call the backend, catch MeshError and fail through
fail_with, which words the message (a 403 with the permissions table) and returns field, fix,
partial result and the API requests made."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, _load_params, missing_required_lib

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.redaction import KEY_TEXT, is_pem_text
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import (
    HAS_URLLIB3, URLLIB3_IMPORT_ERROR, KubeClient)
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.kubeconfig import (
    HAS_YAML, YAML_IMPORT_ERROR, without_credentials)

# Every module starts an interpreter that compiles what it imports (AnsiballZ ships sources, no
# bytecode): the certificate library and the permissions table are imported where they are needed.

# kubernetes.core's connection options (names, types, aliases), so that one module_defaults entry of
# the k8s group serves its modules and ours. Documented once in the doc fragment meshops.multicluster.k8s_auth.
PROXY_HEADERS_SPEC = dict(
    proxy_basic_auth=dict(type="str", no_log=True),
    basic_auth=dict(type="str", no_log=True),
    user_agent=dict(type="str"),
)
AUTH_ARG_SPEC = dict(
    kubeconfig=dict(type="raw"),  # a path, paths joined by ":", or a kubeconfig as a dictionary (then no_log)
    context=dict(type="str"),
    host=dict(type="str"),
    api_key=dict(type="str", no_log=True),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    validate_certs=dict(type="bool", aliases=["verify_ssl"]),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"]),
    client_cert=dict(type="path", aliases=["cert_file"]),
    client_key=dict(type="path", aliases=["key_file"], no_log=False),
    proxy=dict(type="str"),
    no_proxy=dict(type="str"),
    proxy_headers=dict(type="dict", options=PROXY_HEADERS_SPEC),
    persist_config=dict(type="bool"),
    impersonate_user=dict(type="str"),
    impersonate_groups=dict(type="list", elements="str"),
)


def _holds_secrets(option, value, key_file_options):
    """Whether a value of an option that is normally shown holds secrets: key text in a key-file
    option, a kubeconfig given as a dictionary (tokens, keys), a proxy URL with a password."""
    if option in key_file_options:
        return isinstance(value, str) and is_pem_text(value)
    if option == "kubeconfig":
        return isinstance(value, dict)
    if option == "proxy":
        return isinstance(value, str) and without_credentials(value) != value
    return False


def key_file_module(argument_spec, key_file_options, **kwargs):
    """An AnsibleModule whose options that are normally shown (paths, URLs) become no_log when they
    were given secrets instead (_holds_secrets): AnsibleModule writes its arguments to syslog or the
    journal, and echoes them at -vvv, before the module can refuse the value."""
    raw = _load_params() or {}  # None where ansible-test reads the argument spec without running the module
    spec = dict(argument_spec)
    for option in set(key_file_options) | ({"kubeconfig", "proxy"} & set(spec)):
        names = [option] + list(spec[option].get("aliases") or [])
        if any(_holds_secrets(option, raw.get(name), key_file_options) for name in names):
            spec[option] = dict(spec[option], no_log=True)
    return AnsibleModule(argument_spec=spec, **kwargs)


def k8s_module(argument_spec, key_file_options=(), **kwargs):
    """The module with the shared auth options; client_key (and key_file_options) as key_file_module."""
    spec = dict(AUTH_ARG_SPEC)
    spec.update(argument_spec)
    return key_file_module(spec, ("client_key",) + tuple(key_file_options), **kwargs)


def _require(module, libraries):
    """fail_json naming the first of (installed, library, import error) that is not installed."""
    for has, library, error in libraries:
        if not has:
            module.fail_json(msg=missing_required_lib(library), exception=str(error))


def require_client_libraries(module):
    """fail_json naming the first library a KubeClient needs that is not installed."""
    _require(module, ((HAS_URLLIB3, "urllib3", URLLIB3_IMPORT_ERROR), (HAS_YAML, "PyYAML", YAML_IMPORT_ERROR)))


def require_cryptography(module):
    """fail_json when the library of the CA modules' certificates and keys is not installed."""
    from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki
    _require(module, ((pki.HAS_CRYPTOGRAPHY, "cryptography", pki.CRYPTOGRAPHY_IMPORT_ERROR),))


def k8s_client(module):
    """A client for the module's cluster, in the module's check mode, or fail_json saying what is missing."""
    require_client_libraries(module)
    try:
        if is_pem_text(module.params.get("client_key") or ""):
            raise MeshError("client_key %r holds key text, not a path; expected the path of a PEM key file "
                            "(or a kubeconfig whose user has client-key-data)" % KEY_TEXT, field="client_key")
        return KubeClient(module.params, check_mode=module.check_mode)
    except MeshError as exc:
        fail_with(module, exc)


def fail_with(module, exc, client=None, where=None, **result):
    """The one place a MeshError becomes fail_json: its message (a Forbidden in the words of the
    permissions table; `where` it happened, e.g. "cluster east", in front), field, fix and partial
    result, the module's own result keys, and the API requests made so far."""
    result.update(exc.result())
    if client is not None:
        result["api_requests"] = client.requests
    from ansible_collections.meshops.multicluster.plugins.module_utils._access.permissions import worded
    msg = worded(exc)
    module.fail_json(msg="%s: %s" % (where, msg) if where else msg, **result)


def exit_with_files(module, ensure):
    """The spine of a module that works on the controller's files (ca_root, ca_crl): ensure(params,
    check_mode) gives (result, diff); exit with the result (and the diff in diff mode), or fail_with."""
    require_cryptography(module)
    try:
        result, diff = ensure(module.params, module.check_mode)
    except MeshError as exc:
        fail_with(module, exc)
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)
