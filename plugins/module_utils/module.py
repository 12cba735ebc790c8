# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every cluster-facing module shares: the auth options and building the client."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.meshops.multicluster.plugins.module_utils.k8s import (
    HAS_URLLIB3, URLLIB3_IMPORT_ERROR, KubeClient, KubeError)
from ansible_collections.meshops.multicluster.plugins.module_utils.kubeconfig import HAS_YAML, YAML_IMPORT_ERROR

# Documented once in the doc fragment meshops.multicluster.k8s_auth.
AUTH_ARG_SPEC = dict(
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
    host=dict(type="str"),
    api_key=dict(type="str", no_log=True),
    validate_certs=dict(type="bool", aliases=["verify_ssl"]),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"]),
    client_cert=dict(type="path", aliases=["cert_file"]),
    client_key=dict(type="path", aliases=["key_file"], no_log=False),
)


def k8s_module(argument_spec, **kwargs):
    spec = dict(AUTH_ARG_SPEC)
    spec.update(argument_spec)
    return AnsibleModule(argument_spec=spec, **kwargs)


def require_client_libraries(module):
    """fail_json naming the first library a KubeClient needs that is not installed."""
    for has, library, error in ((HAS_URLLIB3, "urllib3", URLLIB3_IMPORT_ERROR), (HAS_YAML, "PyYAML", YAML_IMPORT_ERROR)):
        if not has:
            module.fail_json(msg=missing_required_lib(library), exception=str(error))


def k8s_client(module):
    """A client for the module's cluster, or fail_json saying what is missing."""
    require_client_libraries(module)
    try:
        return KubeClient(module.params)
    except KubeError as exc:
        module.fail_json(msg=str(exc))
