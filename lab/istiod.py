"""Real istiod in the lab: a pilot-discovery process for the pod of every istiod Deployment.

The agent runs it as a kubelet would run the pod: the pod's own arguments and environment, its
volumes mounted (the `cacerts` Secret at etc/cacerts, kept in step so istiod's file watcher sees
a rotation), a service account token, and a kubeconfig built from them as in-cluster config is.
It listens on the istiod Service's ClusterIP (a loopback address in the lab) and service ports,
so that the API server reaches its validation and injection webhooks and clients reach xDS at the
addresses a real cluster would give them. Its monitoring port (15014: metrics and debug views) listens
there too, where a port-forward of the pod arrives: kwok serves the pod's port-forward from a
PortForward of the pod's name (owned by the pod, so it goes with it) that targets this address, as a
kubelet would connect to the pod's own localhost - so istiod sees the forwarded connection come from
a loopback address and serves its debug views to it, as to `kubectl port-forward` (istio/istio#32903).
A process that exits is restarted with a back-off.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import yaml

from .api import Api
from .kubelet import Volumes, container_env, stop_process, write_atomic
from .state import log

# pilot-discovery's listen-address flags, by the container port the chart gives them: on the
# Service's address (pilot-discovery takes one address per server). The monitoring port is the pod's
# port (a port-forward's), the others the Service's.
SERVICE_ADDRESS_FLAGS = {8080: "--httpAddr", 15010: "--grpcAddr", 15012: "--secureGRPCAddr", 15017: "--httpsAddr"}
MONITORING_PORT = 15014
FORWARDED_PORTS = {MONITORING_PORT: "--monitoringAddr"}
PORTFORWARD_MANAGER = "lab-agent"
SERVICE_ACCOUNT_DIR = "var/run/secrets/kubernetes.io/serviceaccount"
BACKOFF_MAX = 60.0
# Written to the log before each start: one log holds every run of the pod's istiod.
RUN_MARKER = "# lab: istiod started for"


def is_istiod(deploy: dict) -> bool:
    containers = deploy["spec"]["template"]["spec"].get("containers") or [{}]
    return (containers[0].get("args") or [""])[0] == "discovery"


def service_port(service: dict, container: dict, container_port: int) -> int:
    """The Service port that leads to `container_port` (what clients and the API server dial)."""
    names = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
    for port in service["spec"].get("ports") or []:
        target = port.get("targetPort", port["port"])
        if (names.get(target) if isinstance(target, str) else target) == container_port:
            return port["port"]
    return container_port


def listen_flags(service: dict, container: dict, service_ip: str) -> list[str]:
    flags = [f"{flag}={service_ip}:{service_port(service, container, port)}"
             for port, flag in SERVICE_ADDRESS_FLAGS.items()]
    flags += [f"{flag}={service_ip}:{port}" for port, flag in FORWARDED_PORTS.items()]
    return flags + [f"--ctrlz_address={service_ip}"]


def port_forward(pod: dict, service_ip: str) -> dict:
    """kwok's PortForward for the pod: its forwarded ports reach istiod on the loopback ClusterIP."""
    meta = pod["metadata"]
    return {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "PortForward",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                                              "uid": meta["uid"]}]},
            "spec": {"forwards": [{"ports": [port], "target": {"address": service_ip, "port": port}}
                                  for port in FORWARDED_PORTS]}}


def newest_pod(api: Api, deploy: dict) -> dict | None:
    """The Deployment's newest pod that is not being deleted (what the kubelet would be running)."""
    meta = deploy["metadata"]
    selector = ",".join(f"{k}={v}" for k, v in (deploy["spec"]["selector"].get("matchLabels") or {}).items())
    pods = (api.request("GET", f"/api/v1/namespaces/{meta['namespace']}/pods", query={"labelSelector": selector})
            or {}).get("items", [])
    pods = [p for p in pods if not p["metadata"].get("deletionTimestamp") and p["spec"].get("nodeName")]
    return max(pods, key=lambda p: p["metadata"]["creationTimestamp"], default=None)


class Istiod:
    """One pilot-discovery process standing in for one istiod pod."""

    def __init__(self, binary: Path, workdir: Path, log_file: Path, api: Api, server: str, ca_file: Path):
        self.binary, self.workdir, self.log_file = binary, workdir, log_file
        self.api, self.server, self.ca_file = api, server, ca_file
        self.proc: subprocess.Popen | None = None
        self.identity = ""
        self.volumes: Volumes | None = None
        self.backoff, self.restart_at = 5.0, 0.0

    def sync(self, pod: dict, service: dict) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        pod_ip = (pod.get("status") or {}).get("podIP")
        if not pod_ip:  # kwok gives the pod its address as it starts it
            return
        container = spec["containers"][0]
        ip = service["spec"]["clusterIP"]
        root = self.workdir / "root"
        argv = [str(self.binary), *(container.get("args") or []), *listen_flags(service, container, ip),
                f"--kubeconfig={self.workdir / 'kubeconfig'}"]
        env = container_env(container, meta["name"], meta["namespace"], spec)
        env["KUBECONFIG"] = str(self.workdir / "kubeconfig")
        identity = json.dumps([meta["uid"], argv, env])
        if identity != self.identity:
            self.api.apply(port_forward(pod, ip), PORTFORWARD_MANAGER)  # first: a failure is retried next tick
            self.stop()
            self.identity = identity
            self.volumes = Volumes(self.api, meta["namespace"], spec, root)
            self.backoff, self.restart_at = 5.0, 0.0
        self._mount(container, meta["namespace"])
        if self.proc is not None and self.proc.poll() is None:
            return
        if self.proc is not None:  # exited: restart after a back-off, as a kubelet does
            if not self.restart_at:
                tail = " | ".join(self.log_file.read_text(errors="replace").strip().splitlines()[-3:])
                log(f"istiod {meta['namespace']}/{meta['name']} exited {self.proc.returncode}; "
                    f"restart in {self.backoff:.0f}s: {tail[-600:]}")
                self.restart_at = time.monotonic() + self.backoff
                self.backoff = min(2 * self.backoff, BACKOFF_MAX)
            if time.monotonic() < self.restart_at:
                return
            self.restart_at = 0.0
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as out:
            out.write(f"{RUN_MARKER} pod {meta['namespace']}/{meta['name']}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=root, env=env)
        log(f"started istiod for pod {meta['namespace']}/{meta['name']} (pod IP {pod_ip}) on {ip} (pid {self.proc.pid})")

    def _mount(self, container: dict, namespace: str) -> None:
        """Volumes, the service account token and a kubeconfig that reads it (in-cluster config)."""
        assert self.volumes is not None
        self.volumes.sync(container)
        token_dir = self.volumes.root / SERVICE_ACCOUNT_DIR
        write_atomic(token_dir, {"token": self.volumes.token(None, 3607).encode(),
                                 "ca.crt": self.ca_file.read_bytes(), "namespace": namespace.encode()})
        kubeconfig = yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "in-cluster",
            "clusters": [{"name": "in-cluster", "cluster": {
                "server": self.server, "certificate-authority": str(token_dir / "ca.crt")}}],
            "users": [{"name": "pod", "user": {"tokenFile": str(token_dir / "token")}}],
            "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster", "user": "pod"}}]})
        path = self.workdir / "kubeconfig"
        if not path.is_file() or path.read_text() != kubeconfig:
            path.write_text(kubeconfig)

    def stop(self) -> None:
        stop_process(self.proc, 15)
        self.proc = None
