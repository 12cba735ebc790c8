# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The Kubernetes connection options, named and defaulted as in kubernetes.core so that
    # AWX/Automation Platform Kubernetes credentials (K8S_AUTH_* variables) work unchanged.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file. Defaults to C(~/.kube/config) when no O(host) is given.
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
    type: path
  context:
    description:
      - The kubeconfig context to use. Defaults to the current context of the kubeconfig.
      - Can also be set with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, used instead of a kubeconfig.
      - Can also be set with the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - Bearer token for the API server.
      - Can also be set with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's certificate.
      - Can also be set with the E(K8S_AUTH_VERIFY_SSL) environment variable, read as kubernetes.core
        reads it - C(true), C(yes), C(1) or C(false), C(no), C(0), in any case; any other value is
        refused (kubernetes.core would read it as true).
      - A kubeconfig's C(insecure-skip-tls-verify) must be a YAML boolean; a quoted C("false") is refused,
        as kubectl refuses it.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - CA certificate file that signed the API server's certificate.
      - Can also be set with the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Client certificate file for mutual TLS with the API server.
      - Can also be set with the E(K8S_AUTH_CERT_FILE) environment variable.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Key file of O(client_cert).
      - Can also be set with the E(K8S_AUTH_KEY_FILE) environment variable.
    type: path
    aliases: [key_file]
requirements:
  - python >= 3.9
  - PyYAML >= 5.4
  - urllib3 >= 1.26 (installed with kubernetes)
  - kubernetes >= 24.2.0, only for kubeconfig users with a legacy C(auth-provider)
notes:
  - The kubeconfig is read as kubectl reads it; client certificates, tokens, token files and exec
    credential plugins (C(client.authentication.k8s.io)) work without the kubernetes library.
"""
