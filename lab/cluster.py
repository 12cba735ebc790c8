"""The lab's verbs: start it (`up`), stop it (`down`), show it (`status`), and stop or start one
cluster's API server (`apiserver`). One shared etcd and, per cluster, a real control plane
(lab/control_plane.py), all in the lab's network namespace when it can have one (lab/netns.py;
lab/state.py says which addresses)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from . import build, netns
from .api import Api
from .config import instance, state_dir
from .control_plane import cluster_api, start_control_planes, start_etcd, wait_until_serving
from .inventory import remove_inventory, write_inventory
from .istio_tools import istiod_service
from .kubeconfig import write_kubeconfig
from .processes import Processes, alive, check_free, port_open, wait_until
from .state import ClusterInfo, LabError, LabState, address_bases, cluster_dir, log

MAX_CLUSTERS = 6
DNS_FLAVOURS = ("coredns", "kube-dns")


def up(clusters: int = 2, dns_flavour: str = "coredns", lb_mode: str = "ip", port_base: int | None = None,
       latency_ms: int = 0) -> LabState:
    """latency_ms: a latency proxy (lab/latency.py) in front of each API server adds that round trip
    to every request of the controller (kubeconfig, inventory); the lab's components talk directly."""
    _check_arguments(clusters, dns_flavour, latency_ms)
    _remove_stopped_lab()
    port_base = port_base or int(os.environ.get("LAB_PORT_BASE", 16400 + 1000 * instance()))
    started = time.monotonic()
    # What needs the machine's network first: inside the lab's namespace there is none.
    bins = build.ensure_binaries()
    istio = build.resolve_istio()
    build.ensure_istio_charts()
    log(f"binaries ready in {time.monotonic() - started:.1f}s")
    namespace = _enter_network_namespace()
    infos = [ClusterInfo(f"cluster{i}", i, port_base + 10 + i, dns_flavour, address_bases(instance()),
                         pod_first_octet=10 if namespace else 127,
                         proxy_port=port_base + 30 + i if latency_ms else 0)
             for i in range(1, clusters + 1)]
    _check_ports_free(port_base, infos)
    state = _new_state(infos, port_base, lb_mode, bins, istio, namespace)
    state.latency_ms = latency_ms
    procs = Processes(state)
    try:
        _start_processes(procs, bins, state)
        wait_until_serving(infos)
        write_inventory(state)
        log(f"lab up: {clusters} clusters in {time.monotonic() - started:.1f}s; kubeconfig {state.kubeconfig}"
            + (f" (through latency proxies, {latency_ms} ms round trip)" if latency_ms else ""))
        return state
    except BaseException:
        log("start failed; stopping what was started")
        procs.stop_all()
        raise


def _check_arguments(clusters: int, dns_flavour: str, latency_ms: int = 0) -> None:
    if not 0 <= latency_ms <= 10000:
        raise LabError(f"--latency-ms {latency_ms} is out of range: choose 0 (none) to 10000")
    if not 1 <= clusters <= MAX_CLUSTERS:
        raise LabError(f"--clusters {clusters} is out of range: choose 1 to {MAX_CLUSTERS}")
    if dns_flavour not in DNS_FLAVOURS:
        raise LabError(f"--dns {dns_flavour!r}: expected one of {', '.join(DNS_FLAVOURS)}")


def _enter_network_namespace() -> str:
    """Move this process (and so every process of the lab it starts) into the lab's network namespace;
    its name, or "" when the lab cannot have one and runs in the host's."""
    if not netns.ensure():
        return ""
    netns.enter()
    log(f"the lab runs in network namespace {netns.NAME}: `python -m lab exec -- COMMAND` runs a command there")
    return netns.NAME


def enter_lab_network() -> None:
    """Join the network namespace of the running lab (of LAB_STATE_DIR), if it has one: its API
    servers, ClusterIPs and pods can be reached only from there."""
    state = LabState.load()
    if state is not None and state.netns:
        netns.enter(state.netns)


def _remove_stopped_lab() -> None:
    """Refuse while a lab runs; the state of one that stopped (a crash, a reboot) is removed."""
    existing = LabState.load()
    if existing and any(alive(p) for p in existing.pids.values()):
        raise LabError(f"a lab with {len(existing.clusters)} clusters is already running (state in {state_dir()}); "
                       "run `python -m lab down` first")
    if existing:
        shutil.rmtree(state_dir())


def _check_ports_free(port_base: int, infos: list[ClusterInfo]) -> None:
    check_free("127.0.0.1", port_base, "etcd client")
    check_free("127.0.0.1", port_base + 1, "etcd peer")
    for c in infos:
        check_free("127.0.0.1", c.api_port, f"{c.name} API server")
        check_free("127.0.0.1", c.kubelet_port, f"{c.name} kubelet (kwok)")
        if c.proxy_port:
            check_free("127.0.0.1", c.proxy_port, f"{c.name} latency proxy")
        check_free(c.dns_ip, 53, f"{c.name} cluster DNS", udp=True)


def _new_state(infos: list[ClusterInfo], port_base: int, lb_mode: str, bins: dict[str, Path],
               istio: build.IstioRelease, namespace: str) -> LabState:
    """The new lab's state, saved before its first process starts (so that `down` finds it)."""
    state_dir().mkdir(parents=True, exist_ok=True)
    state = LabState(infos, port_base, lb_mode, str(state_dir() / "kubeconfig"), netns=namespace,
                     istio_version=istio.version, istio_release=istio.release,
                     binaries={name: str(path) for name, path in bins.items()})
    state.save()
    return state


def _start_processes(procs: Processes, bins: dict[str, Path], state: LabState) -> None:
    """etcd, every cluster's control plane, the admin kubeconfig and the agent (load balancers,
    cluster DNS, istiod pods)."""
    etcd_url = start_etcd(procs, bins, state.etcd_port)
    start_control_planes(procs, bins, state.clusters, etcd_url)
    start_latency_proxies(procs, state)
    write_kubeconfig(Path(state.kubeconfig),
                     [(c.name, c.controller_server, cluster_dir(c.name) / "pki") for c in state.clusters])
    procs.start("agent", [sys.executable, "-m", "lab", "agent"], state_dir() / "logs" / "agent.log")


def start_latency_proxies(procs: Processes, state: LabState) -> None:
    """With a latency, one proxy per cluster in front of its API server (lab/latency.py)."""
    for c in state.clusters if state.latency_ms else ():
        log_file = cluster_dir(c.name) / "logs" / "latency-proxy.log"
        procs.start(f"{c.name}/latency-proxy", [sys.executable, "-m", "lab.latency", "--delay-ms", str(state.latency_ms),
                                                str(c.proxy_port), str(c.api_port)], log_file)
        wait_until(f"{c.name} latency proxy", lambda port=c.proxy_port: port_open(port), 30, log_file)


def _istiod_serving(api: Api) -> bool | None:
    """Whether istiod (of the revision the default tag points at) answers on its Service's xDS port;
    None when no such istiod Service exists."""
    try:
        service = api.get("v1", "Service", istiod_service(api), "istio-system")
    except Exception:
        return None
    return None if service is None else port_open(15010, service["spec"]["clusterIP"])


def apiserver(cluster: str, action: str) -> str:
    """Stop or start one cluster's API server (failure tests: an unreachable cluster)."""
    state = LabState.load()
    if state is None:
        raise LabError("no lab running")
    key = f"{cluster}/kube-apiserver"
    if key not in state.pids:
        raise LabError(f"no cluster {cluster!r}: the lab has {', '.join(c.name for c in state.clusters)}")
    pid = state.pids[key]
    if action == "stop":
        state.pids = {key: pid}
        Processes(state).stop_all()
        return f"{cluster}: kube-apiserver stopped"
    if alive(pid):
        return f"{cluster}: kube-apiserver already running"
    argv, log_file = state.commands[key]
    Processes(state).start(key, argv, Path(log_file))
    info = next(c for c in state.clusters if c.name == cluster)
    wait_until(f"{cluster} kube-apiserver", cluster_api(info).healthy, 90, Path(log_file))
    return f"{cluster}: kube-apiserver started"


def down() -> bool:
    state = LabState.load()
    if state is None:
        return False
    Processes(state).stop_all()
    shutil.rmtree(state_dir(), ignore_errors=True)
    remove_inventory()
    return True


def status() -> list[dict]:
    state = LabState.load()
    if state is None:
        return []
    rows = []
    for c in state.clusters:
        api = cluster_api(c)
        procs = {k.split("/", 1)[1]: alive(p) for k, p in state.pids.items() if k.startswith(c.name + "/")}
        healthy = api.healthy()
        istiod = _istiod_serving(api) if healthy else None
        if istiod is not None:  # run by the agent once Istio is installed
            procs["istiod"] = istiod
        rows.append({"cluster": c.name, "api": c.server, "controller_api": c.controller_server,
                     "latency_ms": state.latency_ms, "healthy": healthy, "dns": c.dns_ip,
                     "dns_flavour": c.dns_flavour, "processes": procs})
    return rows


__all__ = ["up", "down", "status", "apiserver", "enter_lab_network", "MAX_CLUSTERS", "DNS_FLAVOURS"]
