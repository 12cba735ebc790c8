# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One HTTP GET to a pod's port through the API server's port-forward (pods/portforward), as
`kubectl port-forward` reaches it: the connection arrives in the pod from its own localhost.

The port-forward is a websocket of the channel protocol v4.channel.k8s.io: every binary message
starts with its channel (0: the port's data, 1: its errors), and the first message of each channel
carries the port (2 bytes, little endian) instead of data. It is opened with the settings of the
KubeClient it is given (its server, TLS context, authentication and impersonation headers, its
HTTP proxy) and counted among that client's reads: a port-forward creates no object.
"""

from __future__ import annotations

import io
import json
import ssl

try:
    from http.client import HTTPException, HTTPResponse
except ImportError:  # Python 2 is not supported; keeps sanity's import test quiet
    HTTPException = HTTPResponse = None

try:
    from urllib.parse import urlsplit
except ImportError:  # Python 2 is not supported
    urlsplit = None

try:
    import websocket
    HAS_WEBSOCKET = True
    WEBSOCKET_IMPORT_ERROR = None
except ImportError as exc:  # reported by the module through missing_required_lib
    HAS_WEBSOCKET = False
    WEBSOCKET_IMPORT_ERROR = exc

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import (
    Forbidden, KubeError, Request, _ssl_context)

PROTOCOL = "v4.channel.k8s.io"
DATA, ERROR = 0, 1


def portforward_path(namespace, pod):
    return "/api/v1/namespaces/%s/pods/%s/portforward" % (namespace, pod)


def http_get(client, namespace, pod, port, path, timeout=None):
    """(HTTP status, body) of GET `path` on the pod's `port`, through a port-forward. KubeError when the
    port-forward cannot be opened (Forbidden for a 403, status set for any other refusal) or the
    pod's port does not answer HTTP (status None)."""
    if not HAS_WEBSOCKET:
        raise KubeError("reading a pod's port through a port-forward needs the Python package websocket-client "
                        "(a dependency of kubernetes): %s" % WEBSOCKET_IMPORT_ERROR)
    api_path = portforward_path(namespace, pod)
    ws = _connect(client, api_path, port, timeout or client.timeout)
    stream = _Channels(ws)
    try:
        stream.wait_for_data_channel()
        request = "GET %s HTTP/1.1\r\nHost: localhost:%d\r\nUser-Agent: %s\r\nAccept: application/json\r\n" \
                  "Connection: close\r\n\r\n" % (path, port, client.headers.get("User-Agent", ""))
        ws.send_binary(bytes([DATA]) + request.encode("ascii"))
        response = HTTPResponse(stream)
        response.begin()
        return response.status, response.read()
    except (HTTPException, websocket.WebSocketException, OSError) as exc:
        errors = stream.errors.decode("utf-8", "replace").strip()
        raise KubeError("pod %s/%s did not answer HTTP on port %d through the port-forward: %s" % (
            namespace, pod, port, errors or str(exc) or exc.__class__.__name__))
    finally:
        ws.close()


def _connect(client, api_path, port, timeout):
    """The port-forward's websocket, opened with the client's connection settings."""
    conn = client.connection
    parts = urlsplit(client.host)
    url = ("wss" if parts.scheme == "https" else "ws") + "://" + parts.netloc + parts.path.rstrip("/") + api_path + \
        "?ports=%d" % port
    # Not the client's Accept (JSON): the kubelet's end of the upgrade answers 406 to it.
    header = ["%s: %s" % (key, value) for key, value in client.headers.iteritems() if key.lower() != "accept"]
    options = dict(header=header, subprotocols=[PROTOCOL],
                   timeout=timeout, sslopt=_sslopt(conn))
    if conn.proxy_url:
        proxy = urlsplit(conn.proxy_url)
        if proxy.scheme != "http":
            raise KubeError("a port-forward goes through an http:// proxy only (CONNECT), not %s://" % proxy.scheme)
        options.update(http_proxy_host=proxy.hostname, http_proxy_port=proxy.port or 80, proxy_type="http")
        basic = (conn.proxy_headers or {}).get("proxy_basic_auth")
        if basic or proxy.username:
            options["http_proxy_auth"] = tuple((basic or "%s:%s" % (proxy.username, proxy.password)).split(":", 1))
    client.count("read")
    try:
        return websocket.create_connection(url, **options)
    except websocket.WebSocketBadStatusException as exc:
        message = _status_message(exc)
        if exc.status_code == 403:
            raise Forbidden(Request("GET", api_path, None, None, None), message)
        raise KubeError("GET %s: %s %s" % (api_path, exc.status_code, message), status=exc.status_code)
    except (websocket.WebSocketException, ssl.SSLError, OSError) as exc:
        raise KubeError("cannot open a port-forward at the Kubernetes API %s: %s" % (client.host, exc))


def _sslopt(conn):
    options = {"context": _ssl_context(conn), "check_hostname": conn.verify}
    if not conn.verify:
        options["cert_reqs"] = ssl.CERT_NONE
    if conn.tls_server_name:
        options["server_hostname"] = conn.tls_server_name
    return options


def _status_message(exc):
    """The message of a refused upgrade: the API server's (a Status object), else the body's first line."""
    body = exc.resp_body or b""
    try:
        return json.loads(body).get("message") or ""
    except (TypeError, ValueError, AttributeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        return text.strip().splitlines()[0] if text.strip() else ""


class _Channels(io.RawIOBase):
    """The port's data channel as a byte stream; what arrives on its error channel is kept in errors."""

    def __init__(self, ws):
        super().__init__()
        self.ws = ws
        self.pending = b""
        self.errors = b""
        self.ended = False
        self.seen = set()

    def readable(self):
        return True

    def wait_for_data_channel(self):
        """The server opens each channel with the port's number: the data channel is there once it has."""
        while DATA not in self.seen and not self.ended:
            self._receive()

    def readinto(self, buffer):
        while not self.pending and not self.ended:
            self._receive()
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        return count

    def _receive(self):
        opcode, data = self.ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            self.ended = True
            return
        channel, payload = split_message(data, self.seen)
        if channel == DATA:
            self.pending += payload
        elif channel == ERROR:
            self.errors += payload

    def makefile(self, mode="rb", *_args, **_kwargs):  # what HTTPResponse reads from
        return io.BufferedReader(self)


def split_message(data, seen):
    """(channel, payload) of one message of the port-forward; the first message of a channel (noted in
    seen) drops the port number it carries. (None, b"") for an empty message."""
    if not data:
        return None, b""
    channel, payload = data[0], bytes(data[1:])
    if channel not in seen:
        seen.add(channel)
        if len(payload) < 2:
            raise KubeError("the port-forward opened channel %d without its port" % channel)
        payload = payload[2:]
    return channel, payload
