"""Start, inspect and stop the lab: one shared etcd and, per cluster, a real control plane.

Every address a cluster hands out is on loopback, so nothing in the lab can send a packet off
the machine: cluster i serves its API on 127.0.0.1:<base+10+i>, gives Services ClusterIPs from
127.(100+o+i).0.0/16, Pods IPs from 127.(140+o+i).0.0/16 and load balancers from
127.(180+o+i).0.0/16, where o = 10 x LAB_INSTANCE keeps side-by-side labs apart.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import build, seed
from .api import Api
from .config import REPO_DIR, instance, load_versions, state_dir
from .kubeconfig import write_kubeconfig
from .pki import write_cluster_pki
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.query import DnsError, query_a

MAX_CLUSTERS = 6
DNS_FLAVOURS = ("coredns", "kube-dns")

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
# Access reviews ask and change nothing: not logged, so that write counts stay writes.
- level: None
  resources: [{group: authorization.k8s.io}, {group: authentication.k8s.io}]
# What the collection (and the tests) do as the admin user, and as the identities playbooks/rbac.yml
# creates (service accounts of namespace meshops-system); the components' own traffic is not logged.
- level: Metadata
  users: [lab-admin]
  verbs: [get, list, create, update, patch, delete, deletecollection]
- level: Metadata
  userGroups: ["system:serviceaccounts:meshops-system"]
  verbs: [get, list, create, update, patch, delete, deletecollection]
- level: None
"""


_SAVE_LOCK = threading.Lock()


class LabError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def address_bases(lab_instance: int) -> tuple:
    """The second octets the instance's clusters add their index (1-6) to: instances 0-3 share the
    127.100-216 ranges ten apart; 4 and 5 live below them (127.11-66)."""
    if lab_instance < 4:
        return tuple(base + 10 * lab_instance for base in (100, 140, 180))
    return tuple(10 + 30 * (lab_instance - 4) + offset for offset in (0, 10, 20))


@dataclass
class ClusterInfo:
    name: str
    index: int
    api_port: int
    dns_flavour: str
    bases: tuple = (100, 140, 180)  # second octets of the instance's service, pod and LB ranges (+ index)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def service_cidr(self) -> str:
        return f"127.{self.bases[0] + self.index}.0.0/16"

    @property
    def dns_ip(self) -> str:
        return f"127.{self.bases[0] + self.index}.0.10"

    @property
    def pod_cidr(self) -> str:
        return f"127.{self.bases[1] + self.index}.0.1/16"

    @property
    def lb_prefix(self) -> str:
        return f"127.{self.bases[2] + self.index}.0"

    @property
    def locality(self) -> str:
        """region/zone of the cluster's node: odd clusters east, even ones west, one zone each, so
        that locality failover has a region to prefer (cluster3 is nearer cluster1 than cluster2)."""
        return f"lab-{'east' if self.index % 2 else 'west'}/zone{self.index}"


@dataclass
class LabState:
    clusters: list[ClusterInfo]
    etcd_port: int
    lb_mode: str
    kubeconfig: str
    # The Istio release the lab resolved (lab/versions.toml) and the binaries it runs.
    istio_version: str = ""
    istio_release: str = ""
    binaries: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    # How each process was started (argv, log file), so one can be stopped and started again.
    commands: dict[str, list] = field(default_factory=dict)

    @classmethod
    def load(cls) -> "LabState | None":
        path = state_dir() / "state.json"
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        data.pop("clusters_info", None)  # derived, written for readers of the file
        data["clusters"] = [ClusterInfo(**dict(c, bases=tuple(c.get("bases", (100, 140, 180))))) for c in data["clusters"]]
        return cls(**data)

    def save(self) -> None:
        with _SAVE_LOCK:  # clusters start in parallel threads
            self._save()

    def _save(self) -> None:
        state_dir().mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data["clusters_info"] = [dict(asdict(c), server=c.server, dns_ip=c.dns_ip, service_cidr=c.service_cidr,
                                      locality=c.locality)
                                 for c in self.clusters]
        tmp = state_dir() / "state.json.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(state_dir() / "state.json")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process is not alive.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _check_free(host: str, port: int, what: str, udp: bool = False) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except PermissionError:
        raise LabError(f"cannot bind {host}:{port} ({what}): port 53 needs root or CAP_NET_BIND_SERVICE")
    except OSError:
        raise LabError(f"port {host}:{port} ({what}) is already in use; stop what uses it or set LAB_PORT_BASE")
    finally:
        sock.close()


class Processes:
    """Processes started by this lab, each in its own session so `down` can stop its whole group."""

    def __init__(self, state: LabState):
        self.state = state

    def start(self, key: str, argv: list[str], log_file: Path) -> int:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONPATH=str(REPO_DIR))  # the agent imports this package
        with open(log_file, "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=state_dir(), env=env)
        self.state.pids[key] = proc.pid
        self.state.commands[key] = [argv, str(log_file)]
        self.state.save()
        return proc.pid

    def stop_all(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL for what is still running after the timeout. Does not save the state."""
        for pid in self.state.pids.values():
            try:
                os.killpg(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_alive(p) for p in self.state.pids.values()):
            time.sleep(0.1)
        for pid in self.state.pids.values():
            if _alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


def _wait(what: str, check, timeout: float, log_file: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    tail = ""
    if log_file and log_file.is_file():
        tail = "\n" + "\n".join(log_file.read_text(errors="replace").splitlines()[-15:])
    raise LabError(f"{what} not ready after {timeout:.0f}s{tail}")


def _cluster_dir(name: str) -> Path:
    return state_dir() / name


def _start_control_plane(procs: Processes, bins: dict[str, Path], cluster: ClusterInfo, etcd_url: str) -> None:
    cdir, pki = _cluster_dir(cluster.name), _cluster_dir(cluster.name) / "pki"
    kubernetes_ip = cluster.service_cidr.replace("0.0/16", "0.1")
    write_cluster_pki(pki, cluster.name, kubernetes_ip)
    (cdir / "audit-policy.yaml").write_text(AUDIT_POLICY)
    for identity in ("controller-manager", "scheduler", "kwok", "coredns"):
        write_kubeconfig(cdir / f"{identity}.kubeconfig", [(cluster.name, cluster.server, pki)], identity)
    procs.start(f"{cluster.name}/kube-apiserver", [
        str(bins["kube-apiserver"]),
        f"--etcd-servers={etcd_url}", f"--etcd-prefix=/{cluster.name}",
        f"--secure-port={cluster.api_port}", "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
        "--endpoint-reconciler-type=none",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}", "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={cluster.service_cidr}", "--allow-privileged=true",
        f"--audit-policy-file={cdir / 'audit-policy.yaml'}", f"--audit-log-path={cdir / 'audit.log'}",
        "--audit-log-format=json", "--profiling=false",
    ], cdir / "logs" / "kube-apiserver.log")
    api = Api(cluster.server, pki)
    _wait(f"{cluster.name} kube-apiserver ({cluster.server})", api.healthy, 90, cdir / "logs" / "kube-apiserver.log")
    procs.start(f"{cluster.name}/kube-controller-manager", [
        str(bins["kube-controller-manager"]), f"--kubeconfig={cdir / 'controller-manager.kubeconfig'}",
        f"--authentication-kubeconfig={cdir / 'controller-manager.kubeconfig'}",
        f"--authorization-kubeconfig={cdir / 'controller-manager.kubeconfig'}",
        "--secure-port=0", "--leader-elect=false", "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
        f"--service-cluster-ip-range={cluster.service_cidr}", "--controllers=*,-nodeipam",
        # kwok marks pods Ready once: a node marked NotReady while its API server was stopped (a
        # failure test) or the machine was busy would leave every pod unready for good.
        "--node-monitor-grace-period=5m",
        "--profiling=false",
    ], cdir / "logs" / "kube-controller-manager.log")
    procs.start(f"{cluster.name}/kube-scheduler", [
        str(bins["kube-scheduler"]), f"--kubeconfig={cdir / 'scheduler.kubeconfig'}",
        f"--authentication-kubeconfig={cdir / 'scheduler.kubeconfig'}",
        f"--authorization-kubeconfig={cdir / 'scheduler.kubeconfig'}",
        "--secure-port=0", "--leader-elect=false", "--profiling=false",
    ], cdir / "logs" / "kube-scheduler.log")
    procs.start(f"{cluster.name}/kwok", [
        str(bins["kwok"]), f"--kubeconfig={cdir / 'kwok.kubeconfig'}", "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--cidr={cluster.pod_cidr}", "--node-ip=127.0.0.1", "--server-address=",
        # A node lease keeps the node lifecycle controller from marking the node (and its pods) unready.
        "--node-lease-duration-seconds=40",
    ], cdir / "logs" / "kwok.log")
    coredns_tag = load_versions()["coredns"]["version"]
    for obj in seed.seed_objects(cluster.dns_flavour, f"{cluster.name}-node-1", cluster.dns_ip, coredns_tag,
                                 cluster.locality):
        _apply_with_retry(api, obj)


def _apply_with_retry(api: Api, obj: dict, timeout: float = 30) -> None:
    """The first writes can race the API server's own bootstrap (namespaces, RBAC)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            api.apply(obj, seed.KUBEADM_MANAGER)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _deployments_available(api: Api) -> bool:
    try:
        items = api.list("apps/v1", "Deployment", "kube-system")
    except Exception:
        return False
    return bool(items) and all(
        any(c["type"] == "Available" and c["status"] == "True" for c in (d.get("status") or {}).get("conditions", []))
        for d in items)


def up(clusters: int = 2, dns_flavour: str = "coredns", lb_mode: str = "ip", port_base: int | None = None) -> LabState:
    if not 1 <= clusters <= MAX_CLUSTERS:
        raise LabError(f"--clusters {clusters} is out of range: choose 1 to {MAX_CLUSTERS}")
    if dns_flavour not in DNS_FLAVOURS:
        raise LabError(f"--dns {dns_flavour!r}: expected one of {', '.join(DNS_FLAVOURS)}")
    existing = LabState.load()
    if existing and any(_alive(p) for p in existing.pids.values()):
        raise LabError(f"a lab with {len(existing.clusters)} clusters is already running (state in {state_dir()}); "
                       "run `python -m lab down` first")
    if existing:
        shutil.rmtree(state_dir())
    port_base = port_base or int(os.environ.get("LAB_PORT_BASE", 16400 + 1000 * instance()))
    infos = [ClusterInfo(f"cluster{i}", i, port_base + 10 + i, dns_flavour, address_bases(instance()))
             for i in range(1, clusters + 1)]
    _check_free("127.0.0.1", port_base, "etcd client")
    _check_free("127.0.0.1", port_base + 1, "etcd peer")
    for c in infos:
        _check_free("127.0.0.1", c.api_port, f"{c.name} API server")
        _check_free(c.dns_ip, 53, f"{c.name} cluster DNS", udp=True)

    started = time.monotonic()
    bins = build.ensure_binaries()
    istio = build.resolve_istio()
    log(f"binaries ready in {time.monotonic() - started:.1f}s")

    state_dir().mkdir(parents=True, exist_ok=True)
    kubeconfig = state_dir() / "kubeconfig"
    state = LabState(infos, port_base, lb_mode, str(kubeconfig), istio.version, istio.release,
                     {name: str(path) for name, path in bins.items()})
    state.save()
    procs = Processes(state)
    try:
        t0 = time.monotonic()
        etcd_url = f"http://127.0.0.1:{port_base}"
        procs.start("etcd", [
            str(bins["etcd"]), "--name=lab", f"--data-dir={state_dir() / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{port_base + 1}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{port_base + 1}",
            f"--initial-cluster=lab=http://127.0.0.1:{port_base + 1}",
            "--unsafe-no-fsync", "--quota-backend-bytes=8589934592", "--log-level=warn",
        ], state_dir() / "logs" / "etcd.log")
        _wait("etcd", lambda: _port_open(port_base), 30, state_dir() / "logs" / "etcd.log")
        log(f"etcd up in {time.monotonic() - t0:.1f}s")

        errors: list[BaseException] = []

        def start_one(c: ClusterInfo) -> None:
            try:
                t = time.monotonic()
                _start_control_plane(procs, bins, c, etcd_url)
                log(f"{c.name}: control plane up at {c.server} in {time.monotonic() - t:.1f}s")
            except BaseException as exc:  # reported after the join
                errors.append(exc)

        threads = [threading.Thread(target=start_one, args=(c,)) for c in infos]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        write_kubeconfig(kubeconfig, [(c.name, c.server, _cluster_dir(c.name) / "pki") for c in infos])
        procs.start("agent", [sys.executable, "-m", "lab", "agent"], state_dir() / "logs" / "agent.log")
        for c in infos:
            api = Api(c.server, _cluster_dir(c.name) / "pki")
            _wait(f"{c.name} kube-system Deployments Available", lambda: _deployments_available(api), 180,
                  _cluster_dir(c.name) / "logs" / "kube-controller-manager.log")
        _wait("cluster DNS answering", lambda: all(_cluster_dns_answers(c.dns_ip) for c in infos), 120,
              state_dir() / "logs" / "agent.log")
        from .inventory import write_inventory
        write_inventory(state)
        log(f"lab up: {clusters} clusters in {time.monotonic() - started:.1f}s; kubeconfig {kubeconfig}")
        return state
    except BaseException:
        log("start failed; stopping what was started")
        procs.stop_all()
        raise


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _cluster_dns_answers(ip: str) -> bool:
    try:
        return bool(query_a(ip, "kubernetes.default.svc.cluster.local", timeout=1))
    except DnsError:
        return False


def _istiod_serving(api: Api) -> bool | None:
    """Whether istiod answers on its Service's xDS port; None when no istiod Service exists."""
    try:
        service = api.get("v1", "Service", "istiod", "istio-system")
    except Exception:
        return None
    return None if service is None else _port_open(15010, service["spec"]["clusterIP"])


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
    if _alive(pid):
        return f"{cluster}: kube-apiserver already running"
    argv, log_file = state.commands[key]
    Processes(state).start(key, argv, Path(log_file))
    info = next(c for c in state.clusters if c.name == cluster)
    _wait(f"{cluster} kube-apiserver", Api(info.server, _cluster_dir(cluster) / "pki").healthy, 90, Path(log_file))
    return f"{cluster}: kube-apiserver started"


def down() -> bool:
    state = LabState.load()
    if state is None:
        return False
    Processes(state).stop_all()
    shutil.rmtree(state_dir(), ignore_errors=True)
    from .inventory import remove_inventory
    remove_inventory()
    return True


def status() -> list[dict]:
    state = LabState.load()
    if state is None:
        return []
    rows = []
    for c in state.clusters:
        api = Api(c.server, _cluster_dir(c.name) / "pki")
        procs = {k.split("/", 1)[1]: _alive(p) for k, p in state.pids.items() if k.startswith(c.name + "/")}
        healthy = api.healthy()
        istiod = _istiod_serving(api) if healthy else None
        if istiod is not None:  # run by the agent once Istio is installed
            procs["istiod"] = istiod
        rows.append({"cluster": c.name, "api": c.server, "healthy": healthy, "dns": c.dns_ip,
                     "dns_flavour": c.dns_flavour, "processes": procs})
    return rows


__all__ = ["up", "down", "status", "apiserver", "LabError", "LabState"]
