# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shapes the services step hands from one function to the next, as typed dicts: what a cluster
exports, what the fleet plan is made of (FleetPlan, computed once by plan.plan_fleet and sent to
every cluster as JSON text) and the VIP store one cluster must hold. They are plain dicts at run
time (the plan travels through Ansible as JSON): the types only name the keys and say what each holds.
"""

from __future__ import annotations

from typing import TypedDict


class Port(TypedDict):
    """A port a ServiceEntry carries: the Service port's name and number, its Istio protocol."""
    name: str
    number: int
    protocol: str


class _ExportKeys(TypedDict):
    name: str
    namespace: str
    ports: list[Port]


class Export(_ExportKeys, total=False):
    """What one cluster exports of one Service (exports.service_export)."""
    export_to: str        # its export-to annotation as written, checked by the plan
    problems: list[str]   # why its ports cannot be exported: the plan holds the host back


class ImportFrom(TypedDict, total=False):
    """What one cluster narrows its imports to (mesh_services_import_from_*); a key only when it narrows."""
    clusters: list[str]
    namespaces: list[str]


class _ClusterKeys(TypedDict):
    name: str


class ClusterInput(_ClusterKeys, total=False):
    """One cluster as the plan takes it (service_entry_plan's clusters)."""
    exports: list[Export]
    gateway_address: str
    gateway_port: int
    locality: str
    vip_store: dict       # vips.store_from_configmap, or its store_summary
    import_from_clusters: list[str]
    import_from_namespaces: list[str]


class _ServiceKeys(TypedDict):
    host: str             # <name>.<namespace>.global
    vip: str
    name: str
    namespace: str
    ports: list[Port]
    clusters: list[str]   # the exporting clusters, sorted


class PlannedService(_ServiceKeys, total=False):
    """One exported host of the plan."""
    export_to: dict[str, list[str]]  # {exporter: selectors}, only when an exporter narrows its importers


class Gateway(TypedDict):
    """How the other clusters reach one cluster's exported services."""
    address: str
    port: int
    locality: str


class Selection(TypedDict):
    """Which cluster imports which host (selection.ImportView reads it)."""
    groups: dict[str, list[str]]           # the inventory groups export-to annotations name: {group: clusters}
    import_from: dict[str, ImportFrom]     # {cluster: what it imports} of the clusters that narrow it


class Layout(TypedDict):
    """Where the ServiceEntries live and how local Services are named."""
    namespace_mode: str   # replicate (the Service's namespace) or single
    namespace: str        # the namespace of mode single
    cluster_domain: str


class TrafficPolicy(TypedDict):
    """The DestinationRules' policy (plan.traffic_policy)."""
    failover: str
    consecutive_errors: int
    interval: str
    base_ejection_time: str
    max_ejection_percent: int


class StoreVersion(TypedDict):
    resource_version: str  # of the store read there: the precondition of writing it


class PlannedCluster(TypedDict):
    """The plan's part for one cluster; the allocation itself is not repeated per cluster."""
    vip_store: StoreVersion


class _FleetPlanKeys(TypedDict):
    allocations: dict[str, str]          # {host: vip}, the same in every cluster
    generation: int
    unavailable: list[str]               # clusters that could not be read
    held: dict[str, list[str]]           # {host: [why]} held back: every writer keeps its objects as they are
    services: list[PlannedService]       # sorted by host
    gateways: dict[str, Gateway]         # {cluster: its gateway}, every cluster of the plan
    selection: Selection
    layout: Layout
    policy: TrafficPolicy
    clusters: dict[str, PlannedCluster]


class FleetPlan(_FleetPlanKeys, total=False):
    """The desired state of the whole fleet (plan.plan_fleet). service_entry_plan reports the
    warnings as warnings and hands on the rest."""
    warnings: list[str]


class ClusterStore(TypedDict):
    """The VIP store one cluster must hold, and the version read there (plan.cluster_store)."""
    allocations: dict[str, str]
    generation: int
    resource_version: str
