# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stable virtual IPs for the mesh's `.global` hosts.

One VIP per host, the same in every cluster, from a range inside 240.0.0.0/4 that stays clear of
Istio's own auto-allocation range. The allocation is stored in every cluster (ConfigMap
istio-system/meshops-vips, data host -> VIP, annotated with a generation), so it survives the loss
of the controller; the highest generation found in the fleet is the current one.

Pure functions: no cluster access, no Ansible.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json

from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import MeshError
from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import ISTIO_NAMESPACE, VIP_STORE, managed_labels

CLASS_E = ipaddress.ip_network("240.0.0.0/4")
ISTIO_AUTO_ALLOCATE = ipaddress.ip_network("240.240.0.0/16")
DEFAULT_RANGE = "240.10.0.0/16"

GENERATION_ANNOTATION = "multicluster.meshops.io/vip-generation"
COMPONENT_LABEL = "multicluster.meshops.io/component"
COMPONENT = "services"


class AllocationError(MeshError, ValueError):
    """The range or the stores cannot give every host a VIP; the message says how to fix it."""


def parse_range(cidr):
    """The VIP range as an IPv4Network, or AllocationError saying what is wrong with it."""
    try:
        network = ipaddress.ip_network(str(cidr), strict=True)
    except ValueError as exc:
        raise AllocationError("mesh_services_vip_range %r is not a network in CIDR notation (%s); "
                              "expected e.g. %s" % (cidr, exc, DEFAULT_RANGE))
    if network.version != 4 or not network.subnet_of(CLASS_E):
        raise AllocationError("mesh_services_vip_range %s is outside %s; expected a range inside it, e.g. %s"
                              % (network, CLASS_E, DEFAULT_RANGE))
    if network.overlaps(ISTIO_AUTO_ALLOCATE):
        raise AllocationError("mesh_services_vip_range %s overlaps %s, where Istio auto-allocates ServiceEntry "
                              "addresses; choose a range that does not, e.g. %s" % (network, ISTIO_AUTO_ALLOCATE, DEFAULT_RANGE))
    return network


def _bounds(network):
    """First and last usable address as integers (network and broadcast addresses skipped)."""
    first, last = int(network.network_address), int(network.broadcast_address)
    if network.prefixlen < 31:
        first, last = first + 1, last - 1
    return first, last


def store_digest(allocations):
    """A fingerprint of an allocation. Every cluster reports its copy of the store by fingerprint, so
    the plan needs the content of one copy per distinct fingerprint (as a rule, one), not clusters x
    hosts entries."""
    canonical = json.dumps(sorted((allocations or {}).items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def store_summary(store):
    """A store as read without its allocations: {"generation", "resource_version", "digest"}."""
    return {key: value for key, value in store.items() if key != "allocations"}


def _current(stores):
    """(generation, [(cluster, store)]) of the highest generation among `stores` ({cluster: store
    or summary}, None when missing): lower ones belong to clusters that missed later runs."""
    present = {name: store for name, store in stores.items() if store and store.get("generation")}
    if not present:
        return 0, []
    generation = max(int(store["generation"]) for store in present.values())
    return generation, [(name, store) for name, store in sorted(present.items()) if int(store["generation"]) == generation]


def _full_copies(stores):
    """{digest: allocations} of the stores given in full."""
    return {store["digest"]: store["allocations"] for store in stores if store and "allocations" in store}


def stores_to_read(stores):
    """The clusters whose store the plan still needs in full: for each distinct copy of the highest
    generation that no store given in full holds, the first cluster (by name) that has it."""
    held = _full_copies(stores.values())
    readers = {}
    for name, store in _current(stores)[1]:
        if store["digest"] not in held:
            readers.setdefault(store["digest"], name)
    return sorted(readers.values())


def merge_stores(stores, contents=()):
    """The current allocation from the stores read in each cluster.

    stores: {cluster: store or its summary} (missing stores may be None); contents: further stores in
    full (read from the clusters stores_to_read named). Only stores of the highest generation count.
    Stores of that generation that disagree (two runs that each finished only part of the fleet)
    are merged; a host with two VIPs, or a VIP held by two hosts, is dropped and allocated again.
    Returns (allocations, generation, warnings); AllocationError when a current copy was not read
    in full (it changed between the two reads).
    """
    generation, current = _current(stores)
    if not current:
        return {}, 0, []
    known = _full_copies([*stores.values(), *contents])
    unread = [name for name, store in current if store["digest"] not in known]
    if unread:
        raise AllocationError("the VIP store of cluster(s) %s changed while this run read it (another run at the same "
                              "time?); nothing was written, run again" % ", ".join(unread))
    vips_of = {}
    for digest in sorted({store["digest"] for _name, store in current}):
        for host, vip in known[digest].items():
            vips_of.setdefault(host, set()).add(vip)
    hosts_of = {}
    for host, vips in vips_of.items():
        for vip in vips:
            hosts_of.setdefault(vip, set()).add(host)
    merged, dropped = {}, []
    for host, vips in sorted(vips_of.items()):
        vip = next(iter(vips))
        if len(vips) == 1 and len(hosts_of[vip]) == 1:
            merged[host] = vip
        else:
            dropped.append(host)
    warnings = []
    if dropped:
        warnings.append("the VIP stores of generation %d (clusters %s) disagree about %s, left by two runs at once; "
                        "these hosts get a VIP again" % (generation, ", ".join(name for name, _store in current), ", ".join(dropped)))
    return merged, generation, warnings


def allocate(current, hosts, network):
    """Allocation for exactly `hosts`: existing VIPs kept, new hosts get the lowest free address.

    current: {host: vip} from merge_stores. Hosts no longer in `hosts` are freed; a kept VIP must
    lie inside the range (after the range changed, hosts outside it are allocated again).
    """
    hosts = sorted(set(hosts))
    first, last = _bounds(network)
    if len(hosts) > last - first + 1:
        raise AllocationError("mesh_services_vip_range %s has %d addresses but %d hosts need one; choose a larger range"
                              % (network, last - first + 1, len(hosts)))
    allocation, used = {}, set()
    for host in hosts:
        vip = current.get(host)
        try:
            address = int(ipaddress.IPv4Address(vip)) if vip else None
        except ValueError:
            address = None
        if address is not None and first <= address <= last and address not in used:
            allocation[host] = vip
            used.add(address)
    candidate = first
    for host in hosts:
        if host in allocation:
            continue
        while candidate in used:
            candidate += 1
        allocation[host] = str(ipaddress.IPv4Address(candidate))
        used.add(candidate)
    return allocation


def plan_stores(stores, hosts, vip_range, keep_allocated=False, contents=()):
    """Allocate for `hosts` and say what each cluster's store must hold.

    stores, contents: as merge_stores takes them. keep_allocated: hosts of the current allocation
    that keep their VIP although they are not in `hosts` (a held-back host keeps its entries, so
    its VIP too); True keeps every one (while some cluster cannot be read, a host it exports must
    not lose its VIP).

    Returns (allocations, generation, {cluster: resource_version read}, warnings): every cluster's
    store must hold the allocations and generation, written on the precondition of the version
    read there. The generation goes up only when the allocation changes.
    """
    network = parse_range(vip_range)
    current, generation, warnings = merge_stores(stores, contents)
    kept = set(current) if keep_allocated is True else set(current) & set(keep_allocated or ())
    allocations = allocate(current, set(hosts) | kept, network)
    digest = store_digest(allocations)
    authoritative = [store for _name, store in _current(stores)[1]]
    if any(store["digest"] != digest for store in authoritative) or (allocations and not authoritative):
        generation += 1
    versions = {name: (store or {}).get("resource_version") or "" for name, store in stores.items()}
    return allocations, generation, versions, warnings


def store_from_configmap(configmap):
    """The store as read from a cluster: {"allocations", "generation", "resource_version", "digest"}."""
    if not configmap:
        return {"allocations": {}, "generation": 0, "resource_version": "", "digest": store_digest({})}
    meta = configmap.get("metadata") or {}
    try:
        generation = int((meta.get("annotations") or {}).get(GENERATION_ANNOTATION) or 0)
    except ValueError:
        generation = 0
    allocations = dict(configmap.get("data") or {})
    return {"allocations": allocations, "generation": generation, "resource_version": meta.get("resourceVersion") or "",
            "digest": store_digest(allocations)}


def store_configmap(store, namespace=ISTIO_NAMESPACE):
    """The ConfigMap that holds a store (without resourceVersion), in the control plane's namespace."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": VIP_STORE,
            "namespace": namespace,
            "labels": managed_labels({COMPONENT_LABEL: COMPONENT}),
            "annotations": {GENERATION_ANNOTATION: str(int(store["generation"]))},
        },
        "data": dict(sorted(store["allocations"].items())),
    }


def store_matches(configmap, store):
    """True when the ConfigMap read from a cluster already holds `store`."""
    read = store_from_configmap(configmap)
    return read["allocations"] == store["allocations"] and read["generation"] == int(store["generation"])
