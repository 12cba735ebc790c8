"""Hop 9 of a trace, which only the lab can see: what the real istiods send the proxies on the path.

playbooks/trace.yml judges hops 1-8 from what the clusters hold. Here the lab's xDS probe asks the
source cluster's istiod as a sidecar - the host's outbound cluster must carry mutual TLS with the
host's SNI and the remote exporters' gateways as endpoints - and each remote exporter's istiod as its
east-west gateway, which must hold the SNI cluster AUTO_PASSTHROUGH routes the request to.
"""

from __future__ import annotations

from .istio_tools import _cluster, xds
from .state import LabError
from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import EXPORTED_FROM_ANNOTATION
from ansible_collections.meshops.multicluster.plugins.module_utils._trace.hops import FAIL, PASS, table
from ansible_collections.meshops.multicluster.plugins.module_utils._trace.reading import parse_host

HOP = 9


def _row(cluster, status, evidence):
    return {"hop": HOP, "check": "xds", "cluster": cluster, "status": status, "evidence": evidence, "fix": ""}


def _endpoints(found):
    return sorted("%s:%s" % (lb["endpoint"]["address"]["socketAddress"]["address"],
                             lb["endpoint"]["address"]["socketAddress"]["portValue"])
                  for group in (found.get("loadAssignment") or {}).get("endpoints", [])
                  for lb in group.get("lbEndpoints", []))


def sidecar_row(source, host, entry, probe):
    """What istiod of `source` sends one of its sidecars for the host, against the ServiceEntry there."""
    # The other clusters' gateways (the exporter's own Service, <name>.<namespace>.svc.<domain>, is local).
    remote = sorted("%s:%s" % (e["address"], port) for e in entry["spec"].get("endpoints") or []
                    if ".svc." not in e["address"] for port in sorted(set((e.get("ports") or {}).values())))
    evidence, status = [], PASS
    for port in entry["spec"]["ports"]:
        name = "outbound|%s||%s" % (port["number"], host)
        found = next((c for c in probe.get("clusters", []) if c["name"] == name), None)
        if found is None:
            return _row(source, FAIL, ["istiod of %s sends a sidecar no cluster %s" % (source, name)])
        tls = (found.get("transportSocket") or {}).get("typedConfig") or {}
        sni = "outbound_.%s_._.%s" % (port["number"], host)
        endpoints = _endpoints(found)
        missing = [address for address in remote if address not in endpoints]
        if tls.get("sni") != sni or missing:
            status = FAIL
        evidence.append("sidecar cluster %s: mTLS SNI %s, endpoints %s%s" % (
            name, tls.get("sni", "none"), ", ".join(endpoints) or "none",
            "; lacks %s" % ", ".join(missing) if missing else ""))
    return _row(source, status, evidence)


def gateway_row(exporter, host, ports, probe):
    """What istiod of an exporter sends its east-west gateway: the SNI clusters of the host."""
    names = ["outbound_.%s_._.%s" % (port["number"], host) for port in ports]
    have = {c["name"] for c in probe.get("clusters", [])}
    missing = [name for name in names if name not in have]
    if missing:
        return _row(exporter, FAIL, ["istiod of %s sends its gateway no cluster %s: AUTO_PASSTHROUGH has nowhere "
                                     "to route that SNI" % (exporter, ", ".join(missing))])
    return _row(exporter, PASS, ["gateway cluster %s" % name for name in names])


def trace_xds(host: str, source: str) -> list[dict]:
    """Hop 9 rows: the source's sidecar view, then each remote exporter's gateway view."""
    name, namespace = parse_host(host)
    _state, _info, api = _cluster(source)
    entry = api.request("GET", f"/apis/networking.istio.io/v1/namespaces/{namespace}/serviceentries/{host}")
    if entry is None:
        raise LabError(f"{source} holds no ServiceEntry {namespace}/{host}: run playbooks/trace.yml for hops 1-8")
    rows = [sidecar_row(source, host, entry, xds(source))]
    exporters = (entry["metadata"].get("annotations") or {}).get(EXPORTED_FROM_ANNOTATION, "").split(",")
    for exporter in [e for e in exporters if e and e != source]:
        rows.append(gateway_row(exporter, host, entry["spec"]["ports"], xds(exporter, gateway=True)))
    return rows


def render(host: str, source: str) -> str:
    return "\n".join(table(trace_xds(host, source), "== %s from %s, hop 9 (the lab's xDS probe)" % (host, source)))
