"""A fake of the transport under KubeClient (its urllib3 pool), for unit tests of code that takes a
client: the real KubeClient (paths, counting, check mode, Forbidden) over objects held in memory.
Every request that reaches it is in `sent`, so a test can prove that none was a write."""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import parse_qs
from dataclasses import dataclass

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KINDS, KubeClient, is_write

RESOURCES = {resource for _prefix, resource, _namespaced in KINDS.values()}


@dataclass
class Response:
    status: int
    data: bytes = b""
    reason: str = "OK"


class FakeApi:
    """Objects by their REST path; a collection path lists the objects one segment below it. A
    (method, path) in `forbidden` is answered 403."""

    def __init__(self, objects=None, forbidden=()):
        self.objects = {path: copy.deepcopy(obj) for path, obj in (objects or {}).items()}
        self.forbidden = set(forbidden)
        self.sent = []

    def request(self, method, url, body=None, headers=None, timeout=None, retries=None):
        path, _mark, query = ("/" + url.split("/", 3)[3]).partition("?")
        self.sent.append((method, path))
        if (method, path) in self.forbidden:
            return Response(403, json.dumps({"message": "%s is forbidden" % path}).encode(), "Forbidden")
        if method == "GET":
            return self._get(path, parse_qs(query).get("labelSelector", [""])[0])
        if method == "DELETE":
            return Response(200, json.dumps(self.objects.pop(path)).encode()) if path in self.objects else Response(404)
        obj = json.loads(body)
        if not is_write(method, path):  # an access review: allowed nothing
            return Response(201, json.dumps(dict(obj, status={})).encode())
        if method == "POST":
            path += "/" + obj["metadata"]["name"]
        self.objects[path] = obj
        return Response(201 if method == "POST" else 200, json.dumps(obj).encode())

    def _get(self, path, label_selector):
        if path in self.objects:
            return Response(200, json.dumps(self.objects[path]).encode())
        prefix, last = path.rsplit("/", 1)
        if last not in RESOURCES or prefix.endswith("/namespaces"):
            return Response(404, reason="Not Found")
        # The collection in one namespace, or in all (a path without /namespaces/<name>/).
        within = re.compile(re.escape(path) + "/[^/]+$" if "/namespaces/" in path
                            else re.escape(prefix) + "(/namespaces/[^/]+)?/" + re.escape(last) + "/[^/]+$")
        items = [obj for key, obj in sorted(self.objects.items()) if within.match(key) and _selected(obj, label_selector)]
        return Response(200, json.dumps({"items": items}).encode())

    def writes(self):
        return [(method, path) for method, path in self.sent if is_write(method, path)]


def _selected(obj, label_selector):
    """Whether an object's labels match a selector of key=value and key (exists) terms (the forms the collection sends)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    terms = [term.partition("=") for term in label_selector.split(",") if term]
    return all(labels.get(key) == value if equals else key in labels for key, equals, value in terms)


def fake_client(api, check_mode=False):
    """A KubeClient whose requests go to `api` (a FakeApi)."""
    client = KubeClient({"host": "https://127.0.0.1:6443", "api_key": "token"}, check_mode=check_mode)
    client.pool = api
    return client
