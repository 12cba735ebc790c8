# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How to reach one cluster: a kubeconfig context (or explicit options) made into connection settings.

Reads what kubectl reads for a context (of one file, several merged, or a kubeconfig given as a
dictionary): the server, its CA, TLS server name and proxy, and the user's client certificate,
token, token file, username and password or exec credential plugin (client.authentication.k8s.io).
The explicit options (kubernetes.core's) go on top: a proxy and the hosts it is not used for, proxy
headers, basic authentication, impersonation. Importing the kubernetes library costs about 0.4 s of
CPU in every module run, so it is used only for the legacy ``auth-provider`` users it alone understands.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import subprocess
from urllib.parse import unquote, urlsplit, urlunsplit

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError as exc:  # reported by the module through missing_required_lib
    HAS_YAML = False
    YAML_IMPORT_ERROR = exc

EXEC_TIMEOUT = 60


class KubeconfigError(MeshError):
    pass


class Connection:
    """Everything needed to open TLS connections to one API server and authenticate.

    proxy_headers: urllib3.util.make_headers arguments (proxy_basic_auth, basic_auth, user_agent) for
    the proxy. username and password: HTTP basic authentication. impersonate_user and
    impersonate_groups: the identity the API server acts as (Impersonate-User, Impersonate-Group)."""

    def __init__(self, server, ca_file=None, ca_data=None, verify=True, tls_server_name=None, proxy_url=None,
                 cert_file=None, key_file=None, cert_data=None, key_data=None, token=None, username=None,
                 password=None):
        self.server = server
        self.ca_file, self.ca_data = ca_file, ca_data
        self.verify = verify
        self.tls_server_name = tls_server_name
        self.proxy_url = proxy_url
        self.proxy_headers = {}
        self.cert_file, self.key_file = cert_file, key_file
        self.cert_data, self.key_data = cert_data, key_data
        self.token = token
        self.username, self.password = username, password
        self.impersonate_user, self.impersonate_groups = None, []

    def __repr__(self):  # never shows a token, a password or a key
        return "Connection(%s)" % self.server


def _named(doc, section, name, path):
    for entry in doc.get(section + "s") or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry.get(section) or {}
    raise KubeconfigError("kubeconfig %s has no %s named %r" % (path, section, name))


def _local_path(value, base_dir):
    """kubectl reads relative paths in a kubeconfig relative to the file's directory."""
    return value if os.path.isabs(value) else os.path.join(base_dir, value)


def _pem(entry, key, path):
    """PEM text of a base64 `<key>-data` field, or None."""
    value = entry.get(key + "-data")
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise KubeconfigError("kubeconfig %s: %s-data is not base64 of PEM text" % (path, key))


def _flag(entry, key, path, context):
    """A boolean field, False when absent. kubectl refuses a quoted "false" (a string is no bool):
    so do we, instead of reading a non-empty string as true."""
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise KubeconfigError("kubeconfig %s: %s of the cluster of context %r is %r, not a boolean: write true or "
                              "false without quotes" % (path, key, context, value))
    return value


def _file(entry, key, base_dir):
    value = entry.get(key)
    return _local_path(value, base_dir) if value else None


def read_kubeconfig(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as exc:
        raise KubeconfigError("cannot read kubeconfig %s: %s" % (path, exc.strerror or exc))
    except yaml.YAMLError as exc:
        raise KubeconfigError("kubeconfig %s is not YAML: %s" % (path, exc))
    if not isinstance(doc, dict):
        raise KubeconfigError("kubeconfig %s is not a kubeconfig (expected a mapping with clusters, users, contexts)"
                              % path)
    return doc


# The fields of a kubeconfig that name local files, by section: kubectl reads them relative to the
# file that holds them, also when several files are merged.
LOCAL_FILES = {"cluster": ("certificate-authority",), "user": ("client-certificate", "client-key", "tokenFile")}


def _with_absolute_paths(doc, base_dir):
    """A copy of a kubeconfig's clusters and users whose local file names (and exec commands given as
    a path) are absolute, read from base_dir."""
    doc = dict(doc)
    for section, keys in LOCAL_FILES.items():
        entries = []
        for entry in doc.get(section + "s") or []:
            body = dict((entry or {}).get(section) or {}) if isinstance(entry, dict) else None
            if body is None:
                entries.append(entry)
                continue
            body.update({key: _local_path(body[key], base_dir) for key in keys if body.get(key)})
            exec_spec = body.get("exec")
            if isinstance(exec_spec, dict) and os.sep in (exec_spec.get("command") or ""):
                body["exec"] = dict(exec_spec, command=_local_path(exec_spec["command"], base_dir))
            entries.append(dict(entry, **{section: body}))
        doc[section + "s"] = entries
    return doc


def _merged(paths, label):
    """Several kubeconfig files merged as kubectl merges KUBECONFIG: the first file that names a
    cluster, user or context (or sets current-context) wins; files that do not exist are skipped."""
    present = [path for path in paths if os.path.exists(path)]
    if not present:
        raise KubeconfigError("cannot read kubeconfig %s: none of its files exists" % label)
    merged = {"current-context": None, "clusters": [], "users": [], "contexts": []}
    for path in present:
        doc = _with_absolute_paths(read_kubeconfig(path), os.path.dirname(os.path.abspath(path)))
        merged["current-context"] = merged["current-context"] or doc.get("current-context")
        for section in ("clusters", "users", "contexts"):
            known = {entry.get("name") for entry in merged[section]}
            merged[section] += [entry for entry in doc.get(section) or []
                                if isinstance(entry, dict) and entry.get("name") not in known]
    return merged


def load_kubeconfig(source):
    """(document, label for messages, directory of its relative paths) of the kubeconfig option, as
    kubernetes.core takes it: a kubeconfig given as a dictionary (relative paths from the working
    directory), a path, or several paths joined by os.pathsep (merged, see _merged). ~ and
    environment variables in paths are expanded."""
    if isinstance(source, dict):
        return source, "(given as a dictionary)", os.getcwd()
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str):
        raise KubeconfigError("kubeconfig is a %s: expected the path of a kubeconfig file (several joined by %r) "
                              "or a kubeconfig as a dictionary" % (type(source).__name__, os.pathsep))
    paths = [os.path.expanduser(os.path.expandvars(path)) for path in source.split(os.pathsep) if path]
    if len(paths) == 1:
        return read_kubeconfig(paths[0]), paths[0], os.path.dirname(os.path.abspath(paths[0]))
    return _merged(paths, source), source, os.getcwd()


def user_of(doc, path, context=None):
    """(context name, cluster, user) entries of a context, the current one by default."""
    name = context or doc.get("current-context")
    if not name:
        raise KubeconfigError("kubeconfig %s has no current-context: name one with the context option" % path)
    ctx = _named(doc, "context", name, path)
    user = _named(doc, "user", ctx["user"], path) if ctx.get("user") else {}
    return name, _named(doc, "cluster", ctx.get("cluster"), path), user


def connection_from_kubeconfig(source, context=None, run=subprocess.run, persist_config=False):
    """Connection settings of a context of a kubeconfig (see load_kubeconfig); KubeconfigError for
    what cannot be used. persist_config: a legacy auth-provider's refreshed tokens are written back
    to the file."""
    doc, path, base_dir = load_kubeconfig(source)
    name, cluster, user = user_of(doc, path, context)
    if user.get("auth-provider"):  # legacy gcp, azure, oidc: only the kubernetes library refreshes them
        return connection_from_kubernetes_library(source, context, persist_config)
    if not cluster.get("server"):
        raise KubeconfigError("kubeconfig %s: the cluster of context %r has no server" % (path, name))
    conn = Connection(cluster["server"], ca_file=_file(cluster, "certificate-authority", base_dir),
                      ca_data=_pem(cluster, "certificate-authority", path),
                      verify=not _flag(cluster, "insecure-skip-tls-verify", path, name),
                      tls_server_name=cluster.get("tls-server-name"), proxy_url=cluster.get("proxy-url"),
                      cert_file=_file(user, "client-certificate", base_dir),
                      key_file=_file(user, "client-key", base_dir),
                      cert_data=_pem(user, "client-certificate", path), key_data=_pem(user, "client-key", path),
                      token=user.get("token"), username=user.get("username"), password=user.get("password"))
    if not conn.token and user.get("tokenFile"):
        conn.token = _read_token(_local_path(user["tokenFile"], base_dir))
    if user.get("exec"):
        status = exec_credential(user["exec"], base_dir, cluster, path, run)
        conn.token = status.get("token") or conn.token
        conn.cert_data = status.get("clientCertificateData") or conn.cert_data
        conn.key_data = status.get("clientKeyData") or conn.key_data
    if conn.token and (conn.username or conn.password):  # as kubectl refuses it
        raise KubeconfigError("kubeconfig %s: the user of context %r has both a token and a username/password: "
                              "keep one of them" % (path, name))
    return conn


def _read_token(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as exc:
        raise KubeconfigError("cannot read the token file %s: %s" % (path, exc.strerror or exc))


def exec_credential(spec, base_dir, cluster, path, run=subprocess.run):
    """status of the ExecCredential that a credential plugin prints (token or client certificate)."""
    command = spec.get("command")
    if not command:
        raise KubeconfigError("kubeconfig %s: exec credential plugin without a command" % path)
    if os.sep in command:  # as kubectl: a relative path is relative to the kubeconfig, a bare name is on PATH
        command = _local_path(command, base_dir)
    api_version = spec.get("apiVersion") or "client.authentication.k8s.io/v1"
    info = {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    if spec.get("provideClusterInfo"):
        info["spec"]["cluster"] = {k: cluster[k] for k in ("server", "certificate-authority-data",
                                                           "tls-server-name", "insecure-skip-tls-verify",
                                                           "proxy-url") if k in cluster}
    env = dict(os.environ)
    env.update({item["name"]: item["value"] for item in spec.get("env") or []})
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    hint = spec.get("installHint") or ""
    try:
        done = run([command] + list(spec.get("args") or []), env=env, capture_output=True, text=True,
                   timeout=EXEC_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        raise KubeconfigError("kubeconfig %s: exec credential plugin %s not found. %s" % (path, command, hint))
    except subprocess.TimeoutExpired:
        raise KubeconfigError("kubeconfig %s: exec credential plugin %s gave no credential within %d s"
                              % (path, command, EXEC_TIMEOUT))
    if done.returncode != 0:
        raise KubeconfigError("kubeconfig %s: exec credential plugin %s exited with %d: %s"
                              % (path, command, done.returncode, done.stderr.strip()[-500:]))
    try:
        status = json.loads(done.stdout).get("status") or {}
    except (ValueError, AttributeError):
        raise KubeconfigError("kubeconfig %s: exec credential plugin %s did not print an ExecCredential"
                              % (path, command))
    if not status.get("token") and not (status.get("clientCertificateData") and status.get("clientKeyData")):
        raise KubeconfigError("kubeconfig %s: the ExecCredential of %s has neither a token nor a client "
                              "certificate and key" % (path, command))
    return status


def connection_from_kubernetes_library(source, context, persist_config=False):
    """Connection settings that the kubernetes library computes (its auth-provider plugins refresh
    tokens, and with persist_config write the refreshed ones back to the kubeconfig). source: a
    kubeconfig as a dictionary, or its path(s)."""
    from kubernetes import client, config  # only here: see the module docstring

    cfg = client.Configuration()
    options = dict(context=context, client_configuration=cfg, persist_config=bool(persist_config))
    try:
        if isinstance(source, dict):
            config.load_kube_config_from_dict(config_dict=source, **options)
        else:
            config.load_kube_config(config_file=os.path.expanduser(os.fspath(source)), **options)
    except (config.ConfigException, OSError) as exc:
        label = "(given as a dictionary)" if isinstance(source, dict) else source
        raise KubeconfigError("cannot load kubeconfig %s (context %s): %s" % (label, context or "current", exc))
    # The key is "BearerToken" in recent library versions and "authorization" in older ones.
    token = next((value for value in (cfg.api_key or {}).values() if value), "")
    return Connection(cfg.host, ca_file=cfg.ssl_ca_cert, verify=cfg.verify_ssl,
                      tls_server_name=getattr(cfg, "tls_server_name", None), proxy_url=cfg.proxy,
                      cert_file=cfg.cert_file, key_file=cfg.key_file,
                      token=token[len("Bearer "):] if token.startswith("Bearer ") else token or None)


def bypasses_proxy(server, no_proxy):
    """Whether the API server's URL matches a no_proxy list (comma separated host names, domains,
    host:port, IP addresses, CIDR ranges, or *), with the rules of the kubernetes library that
    kubernetes.core's no_proxy uses."""
    url = urlsplit(server)
    host, host_and_port = (url.hostname or "").lower(), url.netloc.lower().rpartition("@")[2]
    if not host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (item.strip().lower() for item in no_proxy.split(",")):
        if entry == "*":
            return True
        if not entry:
            continue
        if address is not None and _in_network(address, entry):
            return True
        domain = entry.lstrip(".")
        if domain in (host, host_and_port) or host.endswith("." + domain) or host_and_port.endswith("." + domain):
            return True
    return False


def _in_network(address, entry):
    try:
        return address in ipaddress.ip_network(entry, strict=False)
    except ValueError:  # a name, not an address or a range
        return False


def without_credentials(url):
    """A proxy URL fit for a message: user and password (http://user:secret@proxy) left out."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _basic_auth(conn, auth):
    """Explicit username and password replace the kubeconfig user's token; an explicit api_key replaces
    its username and password. Both given is refused, as is half of a username/password."""
    if auth["api_key"] and (auth["username"] or auth["password"]):
        raise KubeconfigError("api_key and username/password are both set: give one way to authenticate")
    if auth["api_key"]:
        conn.token, conn.username, conn.password = auth["api_key"], None, None
    elif auth["username"] or auth["password"]:
        conn.token, conn.username, conn.password = None, auth["username"], auth["password"]
    if bool(conn.username) != bool(conn.password):
        missing = "password" if conn.username else "username"
        raise KubeconfigError("basic authentication needs a username and a password; %s is not set" % missing)


def _proxy(conn, auth):
    """The explicit proxy replaces the kubeconfig's proxy-url; no_proxy applies to either. A user and
    password in the proxy URL (as client-go reads them) authenticate to the proxy unless
    proxy_headers.proxy_basic_auth says otherwise."""
    if auth["proxy"]:
        conn.proxy_url = auth["proxy"]
    if conn.proxy_url and auth["no_proxy"] and bypasses_proxy(conn.server, auth["no_proxy"]):
        conn.proxy_url = None
    conn.proxy_headers = {name: value for name, value in (auth["proxy_headers"] or {}).items() if value}
    if conn.proxy_url and "@" in urlsplit(conn.proxy_url).netloc:
        url = urlsplit(conn.proxy_url)
        conn.proxy_headers.setdefault("proxy_basic_auth", "%s:%s" % (unquote(url.username or ""),
                                                                     unquote(url.password or "")))
        conn.proxy_url = without_credentials(conn.proxy_url)


def _impersonation(conn, auth):
    if auth["impersonate_groups"] and not auth["impersonate_user"]:
        raise KubeconfigError("impersonate_groups is set without impersonate_user: the API server impersonates "
                              "groups only together with a user; set impersonate_user too")
    conn.impersonate_user = auth["impersonate_user"]
    conn.impersonate_groups = list(auth["impersonate_groups"] or [])


def resolve(auth, run=subprocess.run):
    """Connection for resolved auth options (see k8s.auth_params): host, or a kubeconfig context,
    with the explicit options on top."""
    if auth["host"]:
        conn = Connection(auth["host"])
    else:
        conn = connection_from_kubeconfig(auth["kubeconfig"] or "~/.kube/config", auth["context"], run,
                                          auth["persist_config"])
    _basic_auth(conn, auth)
    _proxy(conn, auth)
    _impersonation(conn, auth)
    if auth["ca_cert"]:
        conn.ca_file, conn.ca_data = auth["ca_cert"], None
    if auth["client_cert"]:
        conn.cert_file, conn.cert_data = auth["client_cert"], None
    if auth["client_key"]:
        conn.key_file, conn.key_data = auth["client_key"], None
    if auth["validate_certs"] is not None:
        conn.verify = auth["validate_certs"]
    return conn
