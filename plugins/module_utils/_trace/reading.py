# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the trace of one `.global` host needs from one cluster, read without writing (the backend of
mesh_trace_info).

Every cluster is read the same way - as the cluster a request starts from (its ServiceEntry,
DestinationRule, DNS, root bundle, istiod's registry) and as one the host may be exported by (its
Service, ready endpoints, gateway, intermediate CA) - so that hops.trace() can judge the request
path from any cluster. Only what the judgement needs travels: summaries, never a key or a token.
An object whose content cannot be read is its hop's evidence, not an error: the rest is still read.
"""

from __future__ import annotations

import json
import re

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import InputError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import (
    CA_ROOT_CONFIGMAP, CACERTS, ZONE, ZONE_RECORDS)
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.gateway import resolve_gateway
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import (
    REVISION_LABEL, istiod_name, mesh_config_name)
from ansible_collections.meshops.multicluster.plugins.module_utils._dns import zone_records
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.query import DnsError, query_a
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.client import KubeError
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.deployments import deployment_not_ready
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s import portforward
from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.malformed import MalformedObject, reading
from ansible_collections.meshops.multicluster.plugins.module_utils._services.exports import service_export
from ansible_collections.meshops.multicluster.plugins.module_utils._services.render import (
    EXPORTED_FROM_ANNOTATION, OWNED_SELECTOR, SERVICE_LABEL, SERVICE_NAMESPACE_LABEL)
from ansible_collections.meshops.multicluster.plugins.module_utils._trust import pki

# The Gateway the control plane step creates for *.global (roles/control_plane/templates/global-routing.yml.j2).
GLOBAL_GATEWAY = "meshops-global"
# istiod's monitoring port, where it serves its debug views (what `istioctl x internal-debug` reads).
ISTIOD_DEBUG_PORT = 15014
_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
HOST = re.compile(r"(%s)\.(%s)\.%s\Z" % (_LABEL, _LABEL, re.escape(ZONE)))


def parse_host(host):
    """(name, namespace) of a host <name>.<namespace>.global; InputError naming the value otherwise."""
    match = HOST.match(host or "")
    if not match:
        raise InputError("host %r is not <service>.<namespace>.%s (DNS labels)" % (host, ZONE), field="host",
                         fix="name the host as the mesh names it, e.g. httpbin.bar.%s" % ZONE)
    return match.group(1), match.group(3)


def read_for_trace(client, params):
    """The trace's view of one cluster (see mesh_trace_info's RETURN): what it holds for each host of
    params["hosts"], and what it holds for every host (gateway, roots, intermediate CA, DNS proxy setting).
    params: hosts, namespace (the control plane's), revision, gateway_service, address_override,
    dns_server, dns_port, istiod_debug."""
    hosts = {host: parse_host(host) for host in params["hosts"]}
    mesh_namespace = params["namespace"]
    found = dict(gateway=_gateway(client, params, mesh_namespace), roots=_roots(client, mesh_namespace),
                 intermediate=_intermediate(client, mesh_namespace),
                 mesh_config=_mesh_config(client, params["revision"], mesh_namespace))
    try:
        records = zone_records.read_records(client.get("ConfigMap", ZONE_RECORDS, mesh_namespace), mesh_namespace)
    except MalformedObject as exc:
        records = exc
    debug = _istiod_debug(client, params["revision"], mesh_namespace) if params.get("istiod_debug") else None
    found["hosts"] = {host: _host(client, params, host, name, namespace, records, debug)
                      for host, (name, namespace) in hosts.items()}
    return found


def _host(client, params, host, name, namespace, records, debug):
    """What the cluster holds for one host."""
    found = dict(service=_service(client, name, namespace), namespace=_namespace(client, namespace),
                 endpoints=_endpoints(client, name, namespace))
    selector = "%s,%s=%s,%s=%s" % (OWNED_SELECTOR, SERVICE_LABEL, name, SERVICE_NAMESPACE_LABEL, namespace)
    found["entries"] = [_entry(obj) for obj in client.list("ServiceEntry", label_selector=selector)
                        if host in ((obj.get("spec") or {}).get("hosts") or [])]
    found["rules"] = [_rule(obj) for obj in client.list("DestinationRule", label_selector=selector)
                      if (obj.get("spec") or {}).get("host") == host]
    found["dns"] = _dns(params, host, records)
    found["istiod"] = _istiod_host(debug, host) if debug is not None else None
    return found


def _service(client, name, namespace):
    service = client.get("Service", name, namespace)
    if service is None:
        return None
    export = service_export(service)
    return dict(labels=(service["metadata"].get("labels") or {}), export_to=export.get("export_to"),
                ports=export["ports"], problems=export.get("problems", []))


def _namespace(client, namespace):
    obj = client.get("Namespace", namespace)
    return dict(exists=obj is not None, phase=((obj or {}).get("status") or {}).get("phase") or "",
                labels=((obj or {}).get("metadata") or {}).get("labels") or {})


def _endpoints(client, name, namespace):
    """Ready and not-ready addresses of the Service's EndpointSlices."""
    ready = not_ready = 0
    for endpoint_slice in client.list("EndpointSlice", namespace, label_selector="kubernetes.io/service-name=" + name):
        for endpoint in endpoint_slice.get("endpoints") or []:
            count = len(endpoint.get("addresses") or [])
            if ((endpoint.get("conditions") or {}).get("ready")) is False:
                not_ready += count
            else:
                ready += count
    return dict(ready=ready, not_ready=not_ready)


def _entry(obj):
    spec = obj.get("spec") or {}
    return dict(name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"),
                exported_from=(obj["metadata"].get("annotations") or {}).get(EXPORTED_FROM_ANNOTATION, ""),
                addresses=spec.get("addresses") or [], ports=spec.get("ports") or [],
                endpoints=[dict(address=e.get("address"), ports=e.get("ports") or {}, locality=e.get("locality", ""),
                                labels=e.get("labels") or {}) for e in spec.get("endpoints") or []])


def _rule(obj):
    policy = (obj.get("spec") or {}).get("trafficPolicy") or {}
    return dict(name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"),
                tls_mode=(policy.get("tls") or {}).get("mode"), outlier=policy.get("outlierDetection"),
                locality_lb=((policy.get("loadBalancer") or {}).get("localityLbSetting") or {}).get("enabled"))


def _dns(params, host, records):
    """The zone server's record of the host and what the cluster DNS answers for it."""
    if isinstance(records, MalformedObject):
        found = dict(malformed=str(records))
    else:
        found = dict(zone_server=records is not None, record=(records or {}).get(host))
    if params.get("dns_server"):
        try:
            found["answer"] = query_a(params["dns_server"], host, port=params["dns_port"])
        except DnsError as exc:
            found["answer_error"] = str(exc)
    return found


def _mesh_config(client, revision, mesh_namespace):
    """What of istiod's mesh config the trace needs: whether the sidecar DNS proxy is on (dns_capture)
    and the namespaces istiod watches (discovery_selectors; empty: every namespace); {malformed} when it
    cannot be read."""
    name = mesh_config_name(revision)
    config = client.get("ConfigMap", name, mesh_namespace)
    try:
        with reading("ConfigMap %s/%s" % (mesh_namespace, name)):
            mesh = _yaml_mapping(((config or {}).get("data") or {}).get("mesh") or "{}")
            metadata = (mesh.get("defaultConfig") or {}).get("proxyMetadata") or {}
            selectors = mesh.get("discoverySelectors") or []
            if not isinstance(selectors, list) or not all(isinstance(s, dict) for s in selectors):
                raise ValueError("discoverySelectors is not a list of label selectors")
            return dict(dns_capture=str(metadata.get("ISTIO_META_DNS_CAPTURE", "")).lower() == "true",
                        discovery_selectors=selectors)
    except MalformedObject as exc:
        return dict(malformed=str(exc))


def _yaml_mapping(text):
    import yaml  # a dependency of the collection; imported here, where it is needed
    value = yaml.safe_load(text)
    if not isinstance(value, dict):
        raise ValueError("the mesh config is not a mapping")
    return value


def _gateway(client, params, mesh_namespace):
    name = params["gateway_service"]
    service = client.get("Service", name, mesh_namespace)
    address, problem = resolve_gateway(client, mesh_namespace, name, params["address_override"], service)
    deployment = client.get("Deployment", name, mesh_namespace)
    routing = client.get("Gateway", GLOBAL_GATEWAY, mesh_namespace)
    servers = ((routing or {}).get("spec") or {}).get("servers") or []
    return dict(exists=service is not None, address=address, problem=problem,
                ports=[p.get("port") for p in ((service or {}).get("spec") or {}).get("ports") or []],
                not_ready=deployment_not_ready(deployment) if deployment else "Deployment %s/%s does not exist"
                % (mesh_namespace, name),
                routing=None if routing is None else [
                    dict(port=(s.get("port") or {}).get("number"), mode=(s.get("tls") or {}).get("mode"),
                         hosts=s.get("hosts") or []) for s in servers])


def _roots(client, mesh_namespace):
    """The roots istiod gives workloads, described (what a sidecar of this cluster verifies peers with)."""
    text = ((client.get("ConfigMap", CA_ROOT_CONFIGMAP, mesh_namespace) or {}).get("data") or {}).get("root-cert.pem")
    if not text:
        return None
    try:
        with reading("ConfigMap %s/%s" % (mesh_namespace, CA_ROOT_CONFIGMAP)):
            return [pki.describe(cert) for cert in pki.load_certs(("root-cert.pem", "ConfigMap", text.encode()))]
    except MalformedObject as exc:
        return dict(malformed=str(exc))


def _intermediate(client, mesh_namespace):
    """The intermediate CA istiod signs workload certificates with, and the root of cacerts that signed
    it (certificates only: the key is neither read into the result nor shown)."""
    secret = client.get("Secret", CACERTS, mesh_namespace)
    return None if secret is None else pki.summary(pki.decode_secret_data(secret))


def _istiod_debug(client, revision, mesh_namespace):
    """istiod's registry and endpoint shards (its debug views on the monitoring port), read once for
    every host through a port-forward to its newest ready pod of the revision - where istiod sees
    localhost, to which it answers them (istio/istio#32903); {error, status, service} when they
    cannot be read."""
    service = istiod_name(revision)
    selector = "app=istiod,%s=%s" % (REVISION_LABEL, revision)
    pods = [pod for pod in client.list("Pod", mesh_namespace, label_selector=selector) if _ready(pod)]
    if not pods:
        return dict(error="no ready pod of %s (%s) in %s" % (service, selector, mesh_namespace), status=None,
                    service=service)
    pod = max(pods, key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))
    name = pod["metadata"]["name"]
    views = {}
    try:
        for view in ("registryz", "endpointShardz"):
            status, body = portforward.http_get(client, mesh_namespace, name, ISTIOD_DEBUG_PORT, "/debug/" + view)
            if status != 200:
                return dict(error="pod %s answered /debug/%s with HTTP %d" % (name, view, status), status=status,
                            service=service, pod=name)
            views[view] = json.loads(body)
    except KubeError as exc:
        return dict(error=str(exc), status=exc.status, service=service, pod=name)
    except ValueError:  # an answer that is not JSON: something else serves that port
        return dict(error="pod %s did not answer JSON on port %d" % (name, ISTIOD_DEBUG_PORT), status=None,
                    service=service, pod=name)
    try:
        with reading("istiod's debug views (pod %s)" % name):
            return dict(service=service, pod=name, hosts=debug_hosts(views["registryz"], views["endpointShardz"]))
    except MalformedObject as exc:
        return dict(error=str(exc), status=None, service=service, pod=name, malformed=True)


def _ready(pod):
    return not pod["metadata"].get("deletionTimestamp") and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def _istiod_host(debug, host):
    """What istiod holds for one host: registered, its addresses, its endpoints with their tlsMode."""
    if "error" in debug:
        return {key: debug.get(key) for key in ("error", "status", "service", "pod", "malformed")}
    held = debug["hosts"].get(host)
    return dict(service=debug["service"], pod=debug["pod"], registered=held is not None,
                addresses=held["addresses"] if held else [], endpoints=held["endpoints"] if held else [])


def debug_hosts(registry, shards):
    """{host: {addresses, endpoints: [{address: "ip:port", tls_mode}]}} of istiod's /debug/registryz (a
    list of its services: hostname, defaultAddress, clusterVIPs, autoAllocated addresses) and
    /debug/endpointShardz ({host: {namespace: {Shards: {shard: [endpoint: Addresses, EndpointPort,
    TLSMode]}}}}). ValueError (MalformedObject under reading()) when they are not of those shapes."""
    if not isinstance(registry, list) or not isinstance(shards, dict):
        raise ValueError("the debug views are not a list of services and a map of endpoint shards")
    found = {}
    for entry in registry:
        if not isinstance(entry, dict) or not isinstance(entry.get("hostname"), str):
            raise ValueError("a service of /debug/registryz has no hostname")
        found[entry["hostname"]] = dict(addresses=_registry_addresses(entry), endpoints=[])
    for host, by_namespace in shards.items():
        if host not in found:
            continue
        if not isinstance(by_namespace, dict):
            raise ValueError("the endpoint shards of %s are not a map of namespaces" % host)
        for shard_set in by_namespace.values():
            by_shard = shard_set.get("Shards") if isinstance(shard_set, dict) else None
            if not isinstance(by_shard, (dict, type(None))):
                raise ValueError("the endpoint shards of %s are not a map of shards" % host)
            for endpoints in (by_shard or {}).values():
                if not isinstance(endpoints, (list, type(None))):
                    raise ValueError("a shard of %s is not a list of endpoints" % host)
                found[host]["endpoints"] += [_endpoint(host, endpoint) for endpoint in endpoints or ()]
    return found


def _registry_addresses(entry):
    """The addresses istiod gives the host: its default address and its per-cluster VIPs (the
    ServiceEntry's addresses), without the unspecified 0.0.0.0."""
    addresses = {entry.get("defaultAddress")} if isinstance(entry.get("defaultAddress"), str) else set()
    vips = entry.get("clusterVIPs") or {}
    vips = (vips.get("Addresses") if isinstance(vips, dict) else None) or {}
    if not isinstance(vips, dict):
        raise ValueError("clusterVIPs of %s is not a map of clusters" % entry["hostname"])
    for listed in vips.values():
        addresses.update(listed if isinstance(listed, list) else ())
    return sorted(a for a in addresses if isinstance(a, str) and a and a not in ("0.0.0.0", "::"))


def _endpoint(host, endpoint):
    """"ip:port" and tlsMode of one endpoint of a shard."""
    addresses = endpoint.get("Addresses") if isinstance(endpoint, dict) else None
    port = endpoint.get("EndpointPort") if isinstance(endpoint, dict) else None
    if not isinstance(addresses, list) or not addresses or not isinstance(addresses[0], str) or \
            isinstance(port, bool) or not isinstance(port, int):
        raise ValueError("an endpoint of %s in /debug/endpointShardz has no address and port" % host)
    tls_mode = endpoint.get("TLSMode")
    return dict(address="%s:%d" % (addresses[0], port), tls_mode=tls_mode if isinstance(tls_mode, str) else "")
