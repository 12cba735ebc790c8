# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `global` zone server (istiocoredns): its names, its Corefile, its objects and its records.

The contract other steps rely on: a CoreDNS Deployment + Service `istiocoredns` in the control
plane's namespace (ISTIO_NAMESPACE by default, mesh_istio_namespace) serves zone `global` with the
`hosts` plugin from RECORDS_PATH (no fallthrough: a name without a record gets SERVFAIL). The
Corefile is ConfigMap `istiocoredns` (key `Corefile`); the records are ConfigMap
`istiocoredns-records` (key `global.hosts`) beside it, written by the
ServiceEntry step with render_hosts() and mounted at RECORDS_DIR. CoreDNS re-reads the file every
2 seconds: a records update needs no restart. The objects themselves are the template
roles/dns/templates/zone-server.yml.j2, checked against these names by the unit tests.
"""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.malformed import reading
from ansible_collections.meshops.multicluster.plugins.module_utils._common.validation import name_errors, parse_ip
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import InputError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ISTIO_NAMESPACE, ZONE, ZONE_RECORDS, ZONE_SERVER, managed_labels

RECORDS_KEY = ZONE + ".hosts"
RECORDS_DIR = "/etc/coredns/records"
RECORDS_PATH = RECORDS_DIR + "/" + RECORDS_KEY


def hosts_header(namespace=ISTIO_NAMESPACE):
    """The first lines of the records file, naming the zone server of `namespace` that serves it."""
    return ("# %s: <ip> <name>.<namespace>.%s, one ServiceEntry VIP a line.\n"
            "# Written by meshops.multicluster (ServiceEntry step); served by %s/%s.\n"
            % (RECORDS_KEY, ZONE, namespace, ZONE_SERVER))


def check_dns_name(name, field="zone"):
    """name in lower case without a final dot; InputError naming the field if it is not a DNS name."""
    text = str(name).lower()  # matched whole: surrounding whitespace is refused, not stripped
    bare = text[:-1] if text.endswith(".") else text
    if not bare or name_errors(bare):
        raise InputError("%s: %r is not a DNS name (dot-separated labels of letters, digits and '-', "
                         "e.g. 'global')" % (field, name), field=field)
    return bare


def check_ip(value, field="target_ips"):
    """The address in canonical form; InputError naming the field if it is not exactly an IP
    address (names.parse_ip: no scope id, no whitespace)."""
    try:
        return str(parse_ip(value))
    except ValueError:
        raise InputError("%s: %r is not an IP address (expected e.g. 10.96.0.20 or fd00::20, without "
                         "whitespace or an IPv6 scope id)" % (field, value), field=field)


def render_hosts(records: dict[str, str], namespace: str = ISTIO_NAMESPACE) -> str:
    """The records file of the zone server in `namespace`: header, then `<ip> <host>` a line, sorted by host."""
    lines = {}
    for host, ip in records.items():
        name = check_dns_name(host, "host")
        if not name.endswith("." + ZONE):
            raise ValueError("host: %r is not in zone %s (expected <name>.<namespace>.%s)" % (host, ZONE, ZONE))
        lines[name] = "%s %s\n" % (check_ip(ip, "ip of " + name), name)
    return hosts_header(namespace) + "".join(lines[name] for name in sorted(lines))


def parse_hosts(text) -> dict:
    """host -> ip of a hosts file (comments and blank lines skipped); ValueError on a bad line."""
    records = {}
    for number, line in enumerate((text or "").splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 2:
            raise ValueError("line %d of %s: %r is not '<ip> <host>'" % (number, RECORDS_KEY, line))
        ip = check_ip(fields[0], "line %d of %s" % (number, RECORDS_KEY))
        for host in fields[1:]:
            records[check_dns_name(host, "line %d of %s" % (number, RECORDS_KEY))] = ip
    return records


def read_records(configmap, namespace=ISTIO_NAMESPACE):
    """host -> ip of the records ConfigMap, None without it; MalformedObject naming it on a bad line."""
    if configmap is None:
        return None
    with reading("ConfigMap %s/%s" % (namespace, ZONE_RECORDS)):
        return parse_hosts((configmap.get("data") or {}).get(RECORDS_KEY, ""))


def records_configmap(records: dict[str, str], namespace: str = ISTIO_NAMESPACE) -> dict:
    """ConfigMap <namespace>/istiocoredns-records holding render_hosts(records)."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ZONE_RECORDS, "namespace": namespace,
                         "labels": managed_labels({"app": ZONE_SERVER})},
            "data": {RECORDS_KEY: render_hosts(records, namespace)}}
