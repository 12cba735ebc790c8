"""Look at what the lab's real Istio makes of a cluster's configuration.

- xds(): what a proxy would be told - the lab's xDS probe connects to the cluster's istiod as a
  sidecar in a namespace, or as the east-west gateway, and returns listeners, clusters, endpoints
  and routes (Envoy's JSON).
- istiod_debug(): istiod's debug endpoints (/debug/registryz, /debug/endpointShardz, ...).
- istioctl(): the lab's istioctl against one cluster.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request

from .api import Api
from .build import ensure_binaries
from .config import state_dir
from .state import LabError, LabState
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revision_names import (
    DEFAULT_TAG, LEGACY_REVISION, REVISION_LABEL, istiod_name, tag_webhook_name)

ISTIO_NAMESPACE = "istio-system"
GATEWAY_LABELS = {"istio": "eastwestgateway", "app": "istio-eastwestgateway"}
# The ports of istiod's Service and debug server (lab/istiod.py listens on its ClusterIP).
XDS_PORT, DEBUG_PORT, SECURE_XDS_PORT = 15010, 8080, 15012


def _cluster(name: str):
    state = LabState.load()
    if state is None:
        raise LabError("no lab running; start one with `python -m lab up`")
    info = next((c for c in state.clusters if c.name == name), None)
    if info is None:
        raise LabError(f"no cluster {name!r}: the lab has {', '.join(c.name for c in state.clusters)}")
    return state, info, Api(info.server, state_dir() / name / "pki")


def default_revision(api: Api, namespace: str = ISTIO_NAMESPACE) -> str:
    """The revision the `default` tag's webhook points at; `default` (istiod without a revision) without one."""
    webhook = api.get("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
                      tag_webhook_name(DEFAULT_TAG, namespace)) or {}
    return (webhook.get("metadata", {}).get("labels") or {}).get(REVISION_LABEL) or LEGACY_REVISION


def istiod_service(api: Api, namespace: str = ISTIO_NAMESPACE, revision: str | None = None) -> str:
    """The name of the istiod Service of `revision`; None: of the revision the default tag points at."""
    return istiod_name(revision or default_revision(api, namespace))


def istiod_ip(name: str, namespace: str = ISTIO_NAMESPACE, revision: str | None = None) -> str:
    _state, _info, api = _cluster(name)
    service_name = istiod_service(api, namespace, revision)
    service = api.get("v1", "Service", service_name, namespace)
    if service is None:
        raise LabError(f"{name}: no Service {namespace}/{service_name}: install the control plane first")
    return service["spec"]["clusterIP"]


def istiod_debug(name: str, path: str, timeout: float = 10, namespace: str = ISTIO_NAMESPACE,
                 revision: str | None = None):
    """GET a debug endpoint of the cluster's istiod (of `revision`; None: the default tag's); JSON decoded when it is JSON."""
    url = f"http://{istiod_ip(name, namespace, revision)}:{DEBUG_PORT}{path}"
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        body = answer.read().decode()
    try:
        return json.loads(body)
    except ValueError:
        return body


def xds(name: str, namespace: str = "default", gateway: bool = False, timeout: int = 30,
        istio_namespace: str = ISTIO_NAMESPACE, revision: str | None = None) -> dict:
    """What istiod of cluster `name` (of `revision`; None: the default tag's) tells a sidecar in
    `namespace`, or the east-west gateway."""
    state, info, api = _cluster(name)
    network = ((api.get("v1", "Namespace", istio_namespace) or {}).get("metadata", {}).get("labels") or {}) \
        .get("topology.istio.io/network", "")
    args = [str(ensure_binaries()["xdsprobe"]), f"-addr={istiod_ip(name, istio_namespace, revision)}:{XDS_PORT}", f"-cluster={name}",
            f"-network={network}", f"-locality={info.locality}", f"-timeout={timeout}s"]
    if gateway:
        labels = dict(GATEWAY_LABELS, **{"topology.istio.io/network": network})
        args += ["-type=router", f"-namespace={istio_namespace}", "-workload=istio-eastwestgateway-probe",
                 "-labels=" + ",".join(f"{k}={v}" for k, v in labels.items())]
    else:
        args += ["-type=sidecar", f"-namespace={namespace}", "-workload=probe", "-labels=app=probe"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30, check=False)
    if proc.returncode != 0:
        raise LabError(f"xdsprobe {' '.join(args[1:])} failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout)


def istioctl(name: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    state, _info, _api = _cluster(name)
    return subprocess.run([state.binaries["istioctl"], "--kubeconfig", state.kubeconfig, "--context", name, *args],
                          capture_output=True, text=True, timeout=timeout, check=False)
