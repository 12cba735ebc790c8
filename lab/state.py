"""What a running lab knows about itself: its clusters and their addresses, the binaries it runs,
the network namespace it runs in and the processes it started, kept in <state dir>/state.json for
every later `python -m lab`.

No address a cluster hands out can take a packet off the machine: cluster i serves its API on
127.0.0.1:<base+10+i>, its node's kubelet (kwok's server) on 127.0.0.1:<base+20+i> and its latency
proxy (lab up --latency-ms) on 127.0.0.1:<base+30+i>, gives Services ClusterIPs from 127.(100+o+i).0.0/16, load balancers
127.(180+o+i).0.0/16 and Pods IPs from 10.(140+o+i).0.0/16, local only inside the lab's own network
namespace (lab/netns.py), where o = 10 x LAB_INSTANCE keeps side-by-side labs apart. A lab that cannot
create the namespace (not root) runs in the host's and gives Pods 127.(140+o+i).0.0/16 instead:
loopback addresses, which Kubernetes refuses as endpoints.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .config import state_dir

_SAVE_LOCK = threading.Lock()


class LabError(RuntimeError):
    """What a lab command refuses or could not do, said to the user without a traceback."""


def log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def address_bases(lab_instance: int) -> tuple:
    """The second octets the instance's clusters add their index (1-6) to: instances 0-3 share the
    octets 100-216, ten apart; 4 and 5 live below them (11-66)."""
    if lab_instance < 4:
        return tuple(base + 10 * lab_instance for base in (100, 140, 180))
    return tuple(10 + 30 * (lab_instance - 4) + offset for offset in (0, 10, 20))


def cluster_dir(name: str) -> Path:
    """A cluster's certificates, kubeconfigs, audit log and process logs."""
    return state_dir() / name


@dataclass
class ClusterInfo:
    name: str
    index: int
    api_port: int
    dns_flavour: str
    bases: tuple = (100, 140, 180)  # second octets of the instance's service, pod and LB ranges (+ index)
    # First octet of pod addresses: 10 inside the lab's network namespace, 127 (loopback) outside it.
    pod_first_octet: int = 127
    # The port of the latency proxy in front of the API server (lab/latency.py), 0 without one.
    proxy_port: int = 0

    def _octet(self, kind: int) -> int:
        """The cluster's second octet in the instance's service (0), pod (1) or load balancer (2) range."""
        return self.bases[kind] + self.index

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def kubelet_port(self) -> int:
        """Where the node's kubelet (kwok's server) listens on 127.0.0.1: the API server dials it there
        for a pod's port-forward (the node's InternalIP and daemonEndpoints.kubeletEndpoint)."""
        return self.api_port + 10

    @property
    def controller_server(self) -> str:
        """The API URL the controller (the kubeconfig, the inventory, the benches) uses: through the
        latency proxy when the lab has one; the lab's own components use `server`."""
        return f"https://127.0.0.1:{self.proxy_port}" if self.proxy_port else self.server

    @property
    def service_cidr(self) -> str:
        return f"127.{self._octet(0)}.0.0/16"

    @property
    def dns_ip(self) -> str:
        return f"127.{self._octet(0)}.0.10"

    @property
    def pod_cidr(self) -> str:
        return f"{self.pod_first_octet}.{self._octet(1)}.0.1/16"

    @property
    def lb_prefix(self) -> str:
        return f"127.{self._octet(2)}.0"

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
    # The network namespace (lab/netns.py) every process of the lab runs in; "" for the host's.
    netns: str = ""
    # The round trip the latency proxies add to each request of the controller (0: none, straight to
    # the API servers).
    latency_ms: int = 0
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

    def record_process(self, key: str, pid: int, argv: list[str], log_file: str) -> None:
        """Note a started process and save, under the lock: another cluster's thread may be saving
        (serializing these dicts) at the same moment."""
        with _SAVE_LOCK:
            self.pids[key] = pid
            self.commands[key] = [argv, log_file]
            self._save()

    def _save(self) -> None:
        state_dir().mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data["clusters_info"] = [dict(asdict(c), server=c.server, controller_server=c.controller_server,
                                      dns_ip=c.dns_ip, service_cidr=c.service_cidr, locality=c.locality)
                                 for c in self.clusters]
        tmp = state_dir() / "state.json.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(state_dir() / "state.json")
