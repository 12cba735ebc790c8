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
      - Several files joined with C(:) are merged as kubectl merges E(KUBECONFIG);
        the first file that names a cluster, user or context, or sets C(current-context), wins; files
        that do not exist are skipped.
      - The kubeconfig itself can be given as a dictionary. As with kubernetes.core, it is then
        C(no_log), so each of its values (names and the server URL too) is masked in output and
        messages. Relative file names in it are read from the working directory.
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
    type: raw
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
      - Bearer token for the API server. Replaces the kubeconfig user's credentials (token, or
        username and password); cannot be combined with O(username) and O(password).
      - Can also be set with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  username:
    description:
      - User name for HTTP basic authentication, together with O(password). Replaces the token of the
        kubeconfig user.
      - Kubernetes' own API server has no basic authentication since Kubernetes 1.19; this is for API
        servers behind an authenticating proxy that accepts it. A kubeconfig user's C(username) and
        C(password) are read the same way.
      - Can also be set with the E(K8S_AUTH_USERNAME) environment variable.
    type: str
  password:
    description:
      - Password of O(username) for HTTP basic authentication. Never shown in results, messages or logs.
      - Can also be set with the E(K8S_AUTH_PASSWORD) environment variable.
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
  proxy:
    description:
      - URL of the HTTP proxy to reach the API server through (C(http://host:port)); HTTPS requests are
        tunnelled with C(CONNECT). Replaces the kubeconfig cluster's C(proxy-url).
      - A user and password in the URL (C(http://user:password@host:port)) authenticate to the proxy,
        unless O(proxy_headers.proxy_basic_auth) is set.
      - The usual E(HTTPS_PROXY) and E(NO_PROXY) variables are not read, as in kubernetes.core.
      - Can also be set with the E(K8S_AUTH_PROXY) environment variable.
    type: str
  no_proxy:
    description:
      - Comma separated host names, domains (C(.example.com)), C(host:port), IP addresses and CIDR ranges
        of API servers reached without the proxy; C(*) for all. Applies to O(proxy) and to the
        kubeconfig's C(proxy-url).
      - Can also be set with the E(K8S_AUTH_NO_PROXY) environment variable.
    type: str
  proxy_headers:
    description:
      - Headers sent to the proxy of O(proxy) (with C(CONNECT)); not used without a proxy.
    type: dict
    suboptions:
      proxy_basic_auth:
        description:
          - C(user:password) for the C(Proxy-Authorization) header (basic authentication to the proxy).
          - Can also be set with the E(K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH) environment variable.
        type: str
      basic_auth:
        description:
          - C(user:password) for an C(Authorization) header sent to the proxy.
          - Can also be set with the E(K8S_AUTH_PROXY_HEADERS_BASIC_AUTH) environment variable.
        type: str
      user_agent:
        description:
          - C(User-Agent) header sent to the proxy, such as C(foo/1.0).
          - Can also be set with the E(K8S_AUTH_PROXY_HEADERS_USER_AGENT) environment variable.
        type: str
  persist_config:
    description:
      - Whether tokens that a kubeconfig user's legacy C(auth-provider) (C(oidc), C(gcp), C(azure))
        refreshes are written back to the kubeconfig, so that the next run does not need an expired
        refresh token. Defaults to C(false).
      - Other users have nothing to persist (exec credential plugins keep their own cache).
      - Can also be set with the E(K8S_AUTH_PERSIST_CONFIG) environment variable.
    type: bool
  impersonate_user:
    description:
      - User the API server acts as for every request (C(Impersonate-User) header), such as
        C(system:serviceaccount:<namespace>:<name>). The authenticated user needs the C(impersonate)
        verb on that user (C(system:masters) has it).
      - Can also be set with the E(K8S_AUTH_IMPERSONATE_USER) environment variable.
    type: str
  impersonate_groups:
    description:
      - Groups the API server acts as, with O(impersonate_user) (one C(Impersonate-Group) header each);
        refused without O(impersonate_user).
      - Can also be set with the E(K8S_AUTH_IMPERSONATE_GROUPS) environment variable, comma separated
        (C(group1,group2)).
    type: list
    elements: str
requirements:
  - python >= 3.9
  - PyYAML >= 5.4
  - urllib3 >= 1.26 (installed with kubernetes)
  - kubernetes >= 24.2.0, only for kubeconfig users with a legacy C(auth-provider)
notes:
  - The kubeconfig is read as kubectl reads it; client certificates, tokens, token files and exec
    credential plugins (C(client.authentication.k8s.io)) work without the kubernetes library.
  - These are kubernetes.core's connection options with the same names, aliases and E(K8S_AUTH_*)
    variables.
    The C(meshops.multicluster.k8s) action group extends C(kubernetes.core.k8s), so one
    C(module_defaults) entry C(group/meshops.multicluster.k8s) sets them for both collections' modules.
"""
