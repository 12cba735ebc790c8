# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every hop a request from a sidecar of one cluster to a `.global` host takes, judged in order from
what each cluster holds (reading.read_for_trace) against the fleet plan (what the services step
would write now): the first hop that fails is the break, with its evidence and the fix; the hops
after it are not judged. Pure functions: no cluster access, no Ansible.

 1 export            which clusters export the host, and whether the source imports it (selection)
 2 dns               the host's name gives its VIP (zone record and cluster DNS, or the sidecar DNS proxy)
 3 service_entry     the source's ServiceEntry: VIP, ports, endpoints = the exporters' gateways
 4 destination_rule  mutual TLS, outlier detection, failover by locality
 5 istiod            the source's istiod holds the host with its VIP, endpoints with tlsMode istio
 6 trust             the source's roots and each exporter's intermediate CA chain to each other
 7 gateway           each exporter's east-west gateway: address, port 15443, *.global AUTO_PASSTHROUGH, ready
 8 exporter          each exporter's Service: its namespace watched by istiod, ready endpoints, its own
                     ServiceEntry (the SNI route)
"""

from __future__ import annotations

from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import GATEWAY_PORT
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.selectors import selector_matches
from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import (
    render_destination_rules, render_entries)
from ansible_collections.meshops.multicluster.plugins.module_utils._services.selection import ImportView
from ansible_collections.meshops.multicluster.plugins.module_utils._trace.reading import GLOBAL_GATEWAY, parse_host

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
HOPS = ("export", "dns", "service_entry", "destination_rule", "istiod", "trust", "gateway", "exporter")
# What the trace role gives the plan for an exporter whose gateway has no address, so that the plan
# can still be made: hop 3 leaves that endpoint alone, hop 7 names the gateway's problem.
UNKNOWN_GATEWAY = "gateway-address-unknown.invalid"
SERVICES_FIX = "run playbooks/services.yml: it writes the ServiceEntries, DestinationRules and zone records from the plan"


def row(hop, cluster, status, evidence, fix=""):
    return dict(hop=hop, check=HOPS[hop - 1], cluster=cluster, status=status,
                evidence=evidence if isinstance(evidence, list) else [evidence], fix=fix)


class Trace:
    """The facts every hop shares: the host, the source cluster, the plan and every cluster's reading."""

    def __init__(self, host, source, plan, readings, export_label, dns_mode="zone_server", dns_delegated=None):
        self.host, self.source, self.plan, self.readings = host, source, plan, readings
        self.name, self.namespace = parse_host(host)
        self.export_label, self.dns_mode, self.dns_delegated = export_label, dns_mode, dns_delegated
        self.service = next((s for s in plan.get("services") or [] if s["host"] == host), None)
        self.sources = ImportView(plan.get("selection"), source).sources(self.service) if self.service else []
        self.remote = [cluster for cluster in self.sources if cluster != source]

    def reading(self, cluster):
        """What cluster holds for the host, beside what it holds for every host (mesh_trace_info's reading)."""
        reading = self.readings.get(cluster) or {}
        return dict(reading, **((reading.get("hosts") or {}).get(self.host) or {}))

    def desired(self, render):
        return next((obj for obj in render(self.plan, self.source) if obj["metadata"]["name"] == self.host), None)

    def gateway(self, cluster):
        """(address, port) the plan gives cluster's gateway; None when it has no address now."""
        gateway = self.plan["gateways"].get(cluster) or {}
        address = gateway.get("address")
        return None if not address or address == UNKNOWN_GATEWAY else (address, gateway.get("port") or GATEWAY_PORT)


def _service_words(trace, cluster):
    service = trace.reading(cluster).get("service")
    if service is None:
        return "%s: no Service %s/%s" % (cluster, trace.namespace, trace.name)
    label = service["labels"].get(trace.export_label)
    return "%s: Service %s/%s, label %s=%s, export-to %s" % (
        cluster, trace.namespace, trace.name, trace.export_label, label if label is not None else "(absent)",
        service["export_to"] if service["export_to"] is not None else "(absent: every cluster)")


def hop_export(trace):
    held = (trace.plan.get("held") or {}).get(trace.host)
    if held:
        return [row(1, "fleet", FAIL, ["the plan holds %s back:" % trace.host] + held,
                    "correct the Service as each reason says, then " + SERVICES_FIX)]
    if trace.service is None:
        holders = [cluster for cluster in sorted(trace.readings) if trace.reading(cluster).get("service")]
        evidence = ["no cluster exports %s" % trace.host] + [_service_words(trace, c) for c in holders]
        if trace.plan.get("unavailable"):
            evidence.append("not read: %s" % ", ".join(trace.plan["unavailable"]))
        if not holders:
            return [row(1, "fleet", FAIL, evidence + ["no cluster of the fleet has Service %s/%s" % (
                trace.namespace, trace.name)], "check the host's name: <service>.<namespace>.global of a Service")]
        return [row(1, "fleet", FAIL, evidence,
                    "label the Service %s=true in the cluster that serves it (or list %s/%s in its "
                    "mesh_services_exported), then %s" % (trace.export_label, trace.namespace, trace.name, SERVICES_FIX))]
    evidence = ["exported by %s" % ", ".join(trace.service["clusters"])]
    evidence += [_service_words(trace, c) for c in trace.service["clusters"]]
    if not trace.sources:
        wanted = ((trace.plan.get("selection") or {}).get("import_from") or {}).get(trace.source) or {}
        if wanted:
            evidence.append("%s imports only from clusters %s, namespaces %s" % (
                trace.source, ", ".join(wanted.get("clusters") or ["(any)"]), ", ".join(wanted.get("namespaces") or ["(any)"])))
        return [row(1, trace.source, FAIL, evidence + ["%s imports %s from none of them" % (trace.source, trace.host)],
                    "name %s (or a group:<inventory group> it is in) in the export-to annotation, or widen its "
                    "mesh_services_import_from_clusters / mesh_services_import_from_namespaces, then %s"
                    % (trace.source, SERVICES_FIX))]
    return [row(1, trace.source, PASS, evidence + ["%s imports it from %s" % (trace.source, ", ".join(trace.sources))])]


def hop_dns(trace):
    reading = trace.reading(trace.source)
    vip, dns = trace.service["vip"], reading.get("dns") or {}
    if trace.dns_mode == "sidecar_proxy":
        mesh_config = reading.get("mesh_config") or {}
        if not mesh_config.get("dns_capture"):
            return [row(2, trace.source, FAIL, mesh_config.get("malformed") or "istiod's mesh config does not set "
                        "proxyMetadata ISTIO_META_DNS_CAPTURE \"true\": sidecars do not answer %s" % trace.host,
                        "run playbooks/control_plane.yml with mesh_dns_mode=sidecar_proxy, then restart the workloads")]
        return [row(2, trace.source, PASS, "the sidecar DNS proxy answers %s with the ServiceEntry's address %s"
                    % (trace.host, vip))]
    if dns.get("malformed"):
        return [row(2, trace.source, FAIL, dns["malformed"], SERVICES_FIX)]
    if not dns.get("zone_server"):
        return [row(2, trace.source, FAIL, "no zone records in %s (ConfigMap istiocoredns-records)" % trace.source,
                    "run playbooks/dns.yml, then playbooks/services.yml")]
    record = dns.get("record")
    if record != vip:
        said = "holds no record for %s" % trace.host if record is None else "answers %s for %s" % (record, trace.host)
        return [row(2, trace.source, FAIL, "the zone server %s; its VIP is %s" % (said, vip), SERVICES_FIX)]
    evidence = ["zone record %s -> %s" % (trace.host, vip)]
    if trace.dns_delegated is False:
        return [row(2, trace.source, FAIL, evidence + ["the cluster DNS does not delegate zone global to the zone server"],
                    "run playbooks/dns.yml")]
    if "answer" in dns or "answer_error" in dns:
        answer = dns.get("answer")
        if answer != [vip]:
            return [row(2, trace.source, FAIL, evidence + ["the cluster DNS answers %s" % (
                dns.get("answer_error") or ", ".join(answer or []) or "no address")],
                "run playbooks/dns.yml (the delegation of zone global); a changed Corefile takes up to a minute")]
        evidence.append("the cluster DNS answers %s" % vip)
    else:
        evidence.append("the cluster DNS was not asked (mesh_verify_dns_server is empty)")
    return [row(2, trace.source, PASS, evidence)]


def _endpoint_words(endpoint, clusters_by_address):
    ports = sorted(set((endpoint.get("ports") or {}).values()))
    where = clusters_by_address.get(endpoint.get("address"), "")
    return "%s:%s%s%s" % (endpoint.get("address"), "/".join(str(p) for p in ports) or "-",
                          " (%s)" % where if where else "", " %s" % endpoint["locality"] if endpoint.get("locality") else "")


def hop_service_entry(trace):
    desired = trace.desired(render_entries)
    live = trace.reading(trace.source).get("entries") or []
    if not live:
        return [row(3, trace.source, FAIL, "no ServiceEntry for %s in %s" % (trace.host, trace.source), SERVICES_FIX)]
    if len(live) > 1:
        return [row(3, trace.source, FAIL, "%d ServiceEntries of ours for %s: %s" % (
            len(live), trace.host, ", ".join("%s/%s" % (e["namespace"], e["name"]) for e in live)), SERVICES_FIX)]
    entry, spec = live[0], desired["spec"]
    by_address = {gateway["address"]: cluster for cluster, gateway in trace.plan["gateways"].items()}
    problems = []
    if entry["namespace"] != desired["metadata"]["namespace"]:
        problems.append("in namespace %s, planned in %s" % (entry["namespace"], desired["metadata"]["namespace"]))
    if entry["addresses"] != spec["addresses"]:
        problems.append("addresses %s, the VIP is %s" % (", ".join(entry["addresses"]) or "none", spec["addresses"][0]))
    if sorted((p.get("name"), p.get("number"), p.get("protocol")) for p in entry["ports"]) != \
            sorted((p["name"], p["number"], p["protocol"]) for p in spec["ports"]):
        problems.append("ports %s, planned %s" % (_ports(entry["ports"]), _ports(spec["ports"])))
    # An exporter whose gateway has no address now cannot be compared here: hop 7 names it.
    unknown = [c for c in trace.remote if trace.gateway(c) is None]
    wanted = [e for e in spec["endpoints"] if e["address"] != UNKNOWN_GATEWAY]
    have = [_endpoint_key(e) for e in entry["endpoints"]]
    problems += ["lacks endpoint %s" % _endpoint_words(e, by_address) for e in wanted if _endpoint_key(e) not in have]
    planned = {e["address"]: _endpoint_key(e) for e in wanted}
    for endpoint in entry["endpoints"]:
        if endpoint.get("address") not in planned:
            if not unknown:
                problems.append("endpoint %s is no exporter's gateway now (stale)" % _endpoint_words(endpoint, by_address))
        elif _endpoint_key(endpoint) != planned[endpoint["address"]]:
            problems.append("endpoint %s differs from the plan" % _endpoint_words(endpoint, by_address))
        if (endpoint.get("labels") or {}).get("security.istio.io/tlsMode") != "istio":
            problems.append("endpoint %s lacks label security.istio.io/tlsMode=istio" % endpoint.get("address"))
    what = "ServiceEntry %s/%s" % (entry["namespace"], entry["name"])
    if problems:
        return [row(3, trace.source, FAIL, ["%s: %s" % (what, p) for p in problems], SERVICES_FIX)]
    return [row(3, trace.source, PASS, ["%s: VIP %s, ports %s" % (what, spec["addresses"][0], _ports(spec["ports"]))]
                + ["endpoint " + _endpoint_words(e, by_address) for e in entry["endpoints"]])]


def _endpoint_key(endpoint):
    return endpoint.get("address"), sorted((endpoint.get("ports") or {}).items()), endpoint.get("locality") or ""


def _ports(ports):
    return ", ".join("%s/%s %s" % (p.get("name"), p.get("number"), p.get("protocol")) for p in ports) or "none"


def hop_destination_rule(trace):
    desired = trace.desired(render_destination_rules)
    live = trace.reading(trace.source).get("rules") or []
    if not live:
        return [row(4, trace.source, FAIL, "no DestinationRule for %s in %s: no mutual TLS to the gateways, no failover"
                    % (trace.host, trace.source), SERVICES_FIX)]
    rule, policy = live[0], desired["spec"]["trafficPolicy"]
    what = "DestinationRule %s/%s" % (rule["namespace"], rule["name"])
    problems = []
    if rule["tls_mode"] != "ISTIO_MUTUAL":
        problems.append("tls mode %s, expected ISTIO_MUTUAL (the gateways pass mutual TLS through)" % rule["tls_mode"])
    if rule["outlier"] != policy["outlierDetection"]:
        problems.append("outlier detection %s, planned %s" % (rule["outlier"], policy["outlierDetection"]))
    if bool(rule["locality_lb"]) != policy["loadBalancer"]["localityLbSetting"]["enabled"]:
        problems.append("locality load balancing %s, planned %s" % (
            "on" if rule["locality_lb"] else "off", "on" if policy["loadBalancer"]["localityLbSetting"]["enabled"] else "off"))
    if problems:
        return [row(4, trace.source, FAIL, ["%s: %s" % (what, p) for p in problems], SERVICES_FIX)]
    outlier = policy["outlierDetection"]
    order = " > ".join("%s (%s)" % (c, trace.plan["gateways"][c]["locality"] or "no locality") for c in trace.sources)
    return [row(4, trace.source, PASS, [
        "%s: ISTIO_MUTUAL, outlier detection %s errors / %s, ejected %s" % (
            what, outlier["consecutive5xxErrors"], outlier["interval"], outlier["baseEjectionTime"]),
        "failover %s: %s" % ("by locality" if rule["locality_lb"] else "off", order)])]


def hop_istiod(trace):
    istiod = trace.reading(trace.source).get("istiod")
    if istiod is None:
        return [row(5, trace.source, SKIP, "istiod's registry not read (mesh_trace_istiod_debug is false)")]
    what = "istiod %s" % istiod["service"] + (" (pod %s)" % istiod["pod"] if istiod.get("pod") else "")
    if istiod.get("error"):
        if istiod.get("status") == 403:
            return [row(5, trace.source, SKIP, "%s: its debug views are not permitted to this identity: %s" % (
                what, istiod["error"]), "grant permission option istiod_debug (docs/permissions.md)")]
        if istiod.get("malformed"):
            return [row(5, trace.source, SKIP, "%s: its debug views are not of a shape the trace reads: %s" % (
                what, istiod["error"]), "read them with kubectl -n <istio namespace> port-forward deploy/%s 15014 and "
                "curl localhost:15014/debug/registryz" % istiod["service"])]
        return [row(5, trace.source, FAIL, "%s: its debug views on port 15014 could not be read through a port-forward: "
                    "%s" % (what, istiod["error"]),
                    "check that %s in %s runs and is Ready (kubectl -n <istio namespace> port-forward deploy/%s 15014 "
                    "reaches it)" % (istiod["service"], trace.source, istiod["service"]))]
    vip = trace.service["vip"]
    if not istiod["registered"]:
        return [row(5, trace.source, FAIL, "%s holds no service %s" % (what, trace.host),
                    "istiod has not taken the ServiceEntry (or rejected it): read its log")]
    problems = [] if vip in istiod["addresses"] else ["%s gives %s the addresses %s, not the VIP %s" % (
        what, trace.host, ", ".join(istiod["addresses"]) or "none", vip)]
    endpoints = {e["address"]: e["tls_mode"] for e in istiod["endpoints"]}
    for cluster in trace.remote:
        gateway = trace.gateway(cluster)
        address = "%s:%s" % gateway if gateway else None
        if address and endpoints.get(address) != "istio":
            problems.append("%s has %s for %s's gateway %s" % (
                what, "no endpoint" if address not in endpoints else "tlsMode %r" % endpoints[address], cluster, address))
    if problems:
        return [row(5, trace.source, FAIL, problems, "istiod has not caught up with the ServiceEntry: read its log")]
    return [row(5, trace.source, PASS, ["%s holds %s with VIP %s" % (what, trace.host, vip)] +
                ["endpoint %s tlsMode %s" % item for item in sorted(endpoints.items())])]


def _short(fingerprint):
    """The first 8 bytes of a SHA-256 fingerprint: enough to tell roots apart in a table."""
    return fingerprint[:23] + "…" if fingerprint and len(fingerprint) > 23 else fingerprint


def _certificate_words(cert):
    return "serial %s, expires %s (%d days)" % (cert["serial"], cert["not_after"], cert["days_left"])


def hop_trust(trace):
    roots = trace.reading(trace.source).get("roots")
    if not isinstance(roots, list):
        why = roots["malformed"] if roots else "istiod publishes no root bundle (ConfigMap istio-ca-root-cert)"
        return [row(6, trace.source, FAIL, why, "run playbooks/trust.yml and check that istiod of %s runs" % trace.source)]
    by_fingerprint = {root["fingerprint"]: root for root in roots}
    # Mutual TLS: the exporter's side verifies the source's certificate too.
    source_signer = (trace.reading(trace.source).get("intermediate") or {}).get("root_fingerprint")
    rows = []
    for exporter in trace.sources:
        intermediate = trace.reading(exporter).get("intermediate")
        if not intermediate or intermediate.get("malformed"):
            rows.append(row(6, exporter, FAIL, "%s has no readable intermediate CA (Secret cacerts)" % exporter,
                            "run playbooks/trust.yml"))
            continue
        cert, signer = intermediate["intermediate"], intermediate.get("root_fingerprint")
        evidence = ["%s's intermediate CA %s" % (exporter, _certificate_words(cert))]
        if signer is None:
            rows.append(row(6, exporter, FAIL, evidence + ["no root of its cacerts signed it"], "run playbooks/trust.yml"))
        elif signer not in by_fingerprint:
            rows.append(row(6, exporter, FAIL, evidence + [
                "signed by root %s, which %s's root bundle lacks (it holds %s)" % (
                    _short(signer), trace.source, ", ".join(map(_short, by_fingerprint)) or "none")],
                "run playbooks/trust.yml: it issues every cluster's intermediate from the fleet's root and spreads "
                "the root bundle (a new root: playbooks/rotate.yml, docs/operations.md)"))
        elif cert["days_left"] < 0 or by_fingerprint[signer]["days_left"] < 0:
            rows.append(row(6, exporter, FAIL, evidence + ["root %s expires %s" % (_short(signer), by_fingerprint[signer]["not_after"])],
                            "renew: playbooks/trust.yml (intermediates), playbooks/rotate.yml (the root)"))
        elif exporter != trace.source and source_signer and source_signer not in _fingerprints(trace.reading(exporter)):
            rows.append(row(6, exporter, FAIL, evidence + [
                "%s's own intermediate is signed by root %s, which %s's root bundle lacks: %s refuses %s's sidecars" % (
                    trace.source, _short(source_signer), exporter, exporter, trace.source)],
                "run playbooks/trust.yml: it spreads the root bundle to every cluster"))
        else:
            rows.append(row(6, exporter, PASS, evidence + ["signed by root %s, in %s's root bundle (%s)" % (
                _short(signer), trace.source, _certificate_words(by_fingerprint[signer]))]))
    return rows


def _fingerprints(reading):
    """The fingerprints of the roots a cluster's istiod gives its workloads."""
    roots = reading.get("roots")
    return {root["fingerprint"] for root in roots} if isinstance(roots, list) else set()


def hop_gateway(trace):
    rows = []
    for exporter in trace.remote:
        gateway = trace.reading(exporter).get("gateway") or {}
        planned = trace.gateway(exporter)
        problems = []
        if not gateway.get("exists"):
            problems.append(gateway.get("problem") or "no gateway Service")
        elif not gateway.get("address"):
            problems.append(gateway["problem"])
        elif planned and (gateway["address"]["address"], gateway["address"]["port"]) != planned:
            problems.append("its address is %(address)s:%(port)s" % gateway["address"] + ", the plan's %s:%s" % planned)
        if gateway.get("exists") and GATEWAY_PORT not in (gateway.get("ports") or []):
            problems.append("the gateway Service has no port %d" % GATEWAY_PORT)
        routes = [s for s in gateway.get("routing") or []
                  if s["port"] == GATEWAY_PORT and s["mode"] == "AUTO_PASSTHROUGH" and "*.global" in s["hosts"]]
        if not routes:
            problems.append("Gateway %s %s" % (GLOBAL_GATEWAY, "does not exist" if gateway.get("routing") is None
                                               else "routes no *.global on %d with AUTO_PASSTHROUGH" % GATEWAY_PORT))
        if gateway.get("not_ready"):
            problems.append(gateway["not_ready"])
        if problems:
            fix = ("give the gateway Service an address (its load balancer), or set mesh_gateway_address_override for %s"
                   % exporter) if gateway.get("exists") and not gateway.get("address") else \
                "run playbooks/control_plane.yml for %s, then %s" % (exporter, SERVICES_FIX)
            rows.append(row(7, exporter, FAIL, problems, fix))
        else:
            rows.append(row(7, exporter, PASS, "gateway %(address)s:%(port)s (%(source)s), port 15443, " % gateway["address"]
                            + "*.global AUTO_PASSTHROUGH, ready"))
    return rows


def hop_exporter(trace, ready_endpoints=True):
    rows = []
    what = "Service %s/%s" % (trace.namespace, trace.name)
    for exporter in trace.sources:
        reading = trace.reading(exporter)
        problems, evidence = [], []  # problems: (what is wrong, the fix)
        namespace = reading.get("namespace") or {}
        if not namespace.get("exists") or namespace.get("phase") == "Terminating":
            state = "is being deleted" if namespace.get("exists") else "does not exist"
            problems.append(("namespace %s %s" % (trace.namespace, state), SERVICES_FIX))
        else:
            problems += [(why, "label namespace %s so that one of istiod's discoverySelectors matches it, or widen them "
                               "(mesh_istio_values meshConfig.discoverySelectors)" % trace.namespace)
                         for why in _excluded(trace.namespace, namespace.get("labels"), reading.get("mesh_config") or {})]
        if reading.get("service") is None:
            problems.append(("no %s" % what, SERVICES_FIX))
        elif ready_endpoints:
            endpoints = reading.get("endpoints") or {}
            if not endpoints.get("ready"):
                problems.append(("%s has no ready endpoints (%d not ready)" % (what, endpoints.get("not_ready") or 0),
                                 "make the Service's pods Ready (or its selector match them) in %s" % exporter))
            else:
                evidence.append("%s: %d ready endpoint(s)" % (what, endpoints["ready"]))
        else:
            evidence.append("%s exists; its endpoints were not read (mesh_trace_ready_endpoints is false)" % what)
        if not reading.get("entries"):
            problems.append(("no ServiceEntry for %s in %s: its gateway has no route for the host's SNI"
                             % (trace.host, exporter), SERVICES_FIX))
        else:
            evidence.append("its own ServiceEntry %(namespace)s/%(name)s routes the gateway's SNI to the Service"
                            % reading["entries"][0])
        if problems:
            rows.append(row(8, exporter, FAIL, [why for why, _fix in problems], problems[0][1]))
        else:
            rows.append(row(8, exporter, PASS, evidence))
    return rows


def _excluded(namespace, labels, mesh_config):
    """Why istiod of the cluster does not watch the namespace (its mesh config's discoverySelectors), if it does not."""
    if mesh_config.get("malformed"):
        return [mesh_config["malformed"]]
    selectors = mesh_config.get("discovery_selectors") or []
    try:
        if not selectors or any(selector_matches(selector, labels) for selector in selectors):
            return []
    except ValueError as exc:
        return ["istiod's mesh config has a discoverySelector it cannot apply: %s" % exc]
    return ["namespace %s matches none of istiod's discoverySelectors (%d in its mesh config): istiod ignores its "
            "Services, so the gateway has no route to them" % (namespace, len(selectors))]


HOP_FUNCTIONS = (hop_export, hop_dns, hop_service_entry, hop_destination_rule, hop_istiod, hop_trust, hop_gateway)


NOT_READ_FIX = "check that its API server answers and the inventory's credentials for it"


def trace_host(trace, ready_endpoints=True):
    """[row] of every hop in order; after the first FAIL, one SKIP row per hop left. A cluster of the
    path that was not read in this run fails the first hop that needs it (the source's: 2, an exporter's: 6)."""
    rows = []
    for number, judge in enumerate(HOP_FUNCTIONS + (lambda t: hop_exporter(t, ready_endpoints),), start=1):
        broken = broken_hop(rows)
        if broken:
            rows.append(row(number, "", SKIP, "not judged: hop %d (%s) is broken" % (broken["hop"], broken["check"])))
            continue
        needed = {2: [trace.source], 6: trace.sources}.get(number, [])
        unread = [row(number, cluster, FAIL, "%s was not read in this run" % cluster, NOT_READ_FIX)
                  for cluster in needed if cluster not in trace.readings]
        rows.extend(unread or judge(trace))
    return rows


def broken_hop(rows):
    return next((r for r in rows if r["status"] == FAIL), None)


def trace_fleet(hosts, sources, plan, readings, export_label, dns_mode="zone_server", dns_delegated=None,
                ready_endpoints=True):
    """[{host, source, hops, broken, ok}] for every host from every source; without sources, from every
    cluster that imports the host (from the plan's first cluster when none does: the break is the
    fleet's, the same from anywhere). dns_delegated: {cluster: bool}."""
    traces = []
    for host in hosts:
        froms = list(sources) or _importers(host, plan) or sorted(plan["gateways"])[:1]
        for source in froms:
            trace = Trace(host, source, plan, readings, export_label, dns_mode, (dns_delegated or {}).get(source))
            rows = trace_host(trace, ready_endpoints)
            broken = broken_hop(rows)
            traces.append(dict(host=host, source=source, hops=rows, broken=broken, ok=broken is None))
    return traces


def _importers(host, plan):
    service = next((s for s in plan.get("services") or [] if s["host"] == host), None)
    return [cluster for cluster in sorted(plan["gateways"])
            if service and ImportView(plan.get("selection"), cluster).sources(service)]


def table(rows, title=None):
    """The rows as console text: hop | cluster | status | evidence (and the fix under a failure)."""
    lines = ([title] if title else []) + ["hop                  cluster      status  evidence"]
    for r in rows:
        head = "%-20s %-12s %-7s " % ("%d %s" % (r["hop"], r["check"]), r["cluster"] or "-", r["status"])
        lines.append(head + (r["evidence"][0] if r["evidence"] else ""))
        lines += [" " * len(head) + line for line in r["evidence"][1:]]
        if r["fix"] and r["status"] != PASS:
            lines.append(" " * len(head) + "fix: " + r["fix"])
    return lines


def title(trace):
    """A trace in one line: the host, the source and the verdict."""
    broken = trace.get("broken")
    return "%s from %s: %s" % (trace["host"], trace["source"], "every hop passes" if not broken else
                               "broken at hop %d (%s) in %s" % (broken["hop"], broken["check"], broken["cluster"]))


def tables(traces):
    """Every trace's table under its title line."""
    lines = []
    for trace in traces:
        lines += table(trace["hops"], "== " + title(trace)) + [""]
    return lines[:-1]
