"""The demo's sample workload: httpbin in cluster1, exported to the mesh."""

from __future__ import annotations

import yaml

from .api import Api
from .config import state_dir
from .state import LabError, LabState

SAMPLE = yaml.safe_load("""
- apiVersion: v1
  kind: Namespace
  metadata: {name: bar}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: httpbin, namespace: bar, labels: {app: httpbin}}
  spec:
    selector: {matchLabels: {app: httpbin}}
    template:
      metadata: {labels: {app: httpbin}}
      spec:
        containers:
        - name: httpbin
          image: docker.io/kennethreitz/httpbin
          ports: [{containerPort: 80}]
- apiVersion: v1
  kind: Service
  metadata:
    name: httpbin
    namespace: bar
    labels: {app: httpbin, multicluster.meshops.io/export: "true"}
  spec:
    selector: {app: httpbin}
    ports: [{name: http, port: 8000, targetPort: 80}]
""")
HOST = "httpbin.bar.global"


def _api(state: LabState, cluster) -> Api:
    return Api(cluster.server, state_dir() / cluster.name / "pki")


def deploy_sample() -> str:
    state = LabState.load()
    if state is None:
        raise LabError("no lab running; start one with `python -m lab up`")
    first = state.clusters[0]
    api = _api(state, first)
    for obj in SAMPLE:
        api.apply(obj, "lab-demo")
    return f"httpbin deployed in {first.name} (namespace bar), exported as {HOST}"


def show_service_entries(host: str = HOST) -> str:
    state = LabState.load()
    if state is None:
        raise LabError("no lab running")
    out = []
    namespace = host.partition(".")[2].split(".", 1)[0]  # <name>.<namespace>.global
    for cluster in state.clusters:
        try:
            entry = _api(state, cluster).request(
                "GET", f"/apis/networking.istio.io/v1/namespaces/{namespace}/serviceentries/{host}")
        except OSError as exc:  # e.g. its API server stopped by `lab apiserver <cluster> stop`
            out.append(f"# {cluster.name}: API server unreachable ({exc})")
            continue
        if entry is None:
            out.append(f"# {cluster.name}: no ServiceEntry {host}")
            continue
        meta = entry["metadata"]
        shown = {"metadata": {"name": meta["name"], "namespace": meta["namespace"], "labels": meta.get("labels")},
                 "spec": entry["spec"]}
        out.append(f"# {cluster.name}: ServiceEntry {namespace}/{host}\n" + yaml.safe_dump(shown, sort_keys=False))
        out.append(_what_istiod_says(cluster.name, host, entry))
    return "\n".join(out)


def _what_istiod_says(cluster: str, host: str, entry: dict) -> str:
    """What the cluster's real istiod sends a sidecar for the host: endpoints, priorities, mTLS."""
    from .istio_tools import xds
    try:
        probe = xds(cluster)
    except (LabError, OSError) as exc:
        return f"#   istiod of {cluster}: not asked ({exc})"
    lines = []
    for port in entry["spec"]["ports"]:
        name = f"outbound|{port['number']}||{host}"
        found = next((c for c in probe.get("clusters", []) if c["name"] == name), None)
        if found is None:
            lines.append(f"#   istiod of {cluster} sends a sidecar no cluster {name}")
            continue
        tls = (found.get("transportSocket") or {}).get("typedConfig") or {}
        lines.append(f"#   istiod of {cluster} sends a sidecar {name}: mTLS SNI {tls.get('sni', 'none')}, "
                     f"outlier detection {'on' if found.get('outlierDetection') else 'off'}")
        for group in (found.get("loadAssignment") or {}).get("endpoints", []):
            locality = "/".join(v for v in (group.get("locality") or {}).values())
            for lb in group.get("lbEndpoints", []):
                address = lb["endpoint"]["address"]["socketAddress"]
                lines.append(f"#     {address['address']}:{address['portValue']}  {locality or '-'}  "
                             f"priority {group.get('priority', 0)}")
    return "\n".join(lines) + "\n"
