# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kube-dns stub domains: our one key in the `stubDomains` JSON of ConfigMap kube-system/kube-dns.

kube-dns (dnsmasq) sends every name under a stub domain to the listed servers. The collection
adds or updates `{"<zone>": ["<ip>", ...]}` and removes exactly that key again; other stub domains
and `upstreamNameservers` are never touched. When the edit changes nothing, the text is returned as
it was, byte for byte.
"""

from __future__ import annotations

import json

from ansible_collections.meshops.multicluster.plugins.module_utils._dns.zone_records import check_dns_name, check_ip
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import InputError, MeshError

KEY = "stubDomains"


class KubeDnsError(MeshError, ValueError):
    """A stubDomains value the collection cannot edit safely."""


def load(text, what="stubDomains"):
    """The stub domains as a dict ({} for no text); KubeDnsError if it is not a JSON object of lists."""
    if text is None or not text.strip():
        return {}
    try:
        stubs = json.loads(text)
    except ValueError as exc:
        raise KubeDnsError("%s is not valid JSON (%s); it was left unchanged: fix it first" % (what, exc))
    if not isinstance(stubs, dict) or not all(
            isinstance(servers, list) and all(isinstance(server, str) for server in servers)
            for servers in stubs.values()):
        raise KubeDnsError('%s must be a JSON object of lists of servers, like {"example.org": ["10.0.0.1"]}; '
                           "it was left unchanged: fix it first" % what)
    return stubs


def dump(stubs, like):
    """JSON of stubs, multi-line if `like` (the text it replaces) was."""
    if like and "\n" in like.strip():
        return json.dumps(stubs, indent=2) + "\n"
    return json.dumps(stubs)


def merge(text, zone, targets, what="stubDomains"):
    """text with stub domain zone -> targets; the same text if it already says so."""
    zone = check_dns_name(zone)
    targets = [check_ip(target) for target in targets]
    if not targets:
        raise InputError("target_ips: at least one IP address is needed to send zone %s to" % zone, field="target_ips")
    stubs = load(text, what)
    if stubs.get(zone) == targets:
        return text
    stubs[zone] = targets
    return dump(stubs, text)


def unmerge(text, zone, what="stubDomains"):
    """text without stub domain zone; None (no key at all) when nothing else is left."""
    zone = check_dns_name(zone)
    stubs = load(text, what)
    if zone not in stubs:
        return text
    del stubs[zone]
    return dump(stubs, text) if stubs else None
