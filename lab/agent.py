"""The lab's stand-in for what a real cluster's infrastructure does outside the API server.

- Cloud load balancer: LoadBalancer Services get `status.loadBalancer.ingress` (a loopback IP,
  or a hostname with `--lb-hostnames`), as a cloud controller would write it.
- Kubelet for DNS servers: pods are simulated by kwok, so for every Deployment that runs CoreDNS
  (or kube-dns) the agent runs a real CoreDNS process with that Deployment's ConfigMaps as its
  files, listening on the Service's ClusterIP (a loopback address in the lab). The Corefile in the
  cluster stays exactly as in production; only the agent's runtime copy is adapted (see corefile_for_lab):
  files imported where server blocks stand (k3s's `import /etc/coredns/custom/*.server`, from the
  coredns-custom ConfigMap the Deployment mounts there) are inlined, so that their server blocks are
  bound to the ClusterIP too and a change to them restarts CoreDNS as a new pod would read them.
- Kubelet for istiod: for the pod of every istiod Deployment a real pilot-discovery (lab/istiod.py).
"""

from __future__ import annotations

import glob
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from .api import Api, ApiError
from .config import state_dir
from .istiod import Istiod, is_istiod, newest_pod
from .kubelet import Volumes, stop_process
from .state import LabState, log

TICK = 1.0
# Where upstream lookups go in the lab: a loopback port nothing listens on (answers SERVFAIL at once).
NO_UPSTREAM = "127.0.0.1:9"


def lb_disabled_flag(cluster: str) -> Path:
    return state_dir() / cluster / "lb-disabled"


def inline_imports(corefile: str) -> str:
    """Top-level `import <absolute glob>` lines replaced by the files they match, in CoreDNS's (sorted)
    order; imports inside server blocks (directives) stay as they are."""
    out, depth = [], 0
    for line in corefile.splitlines(keepends=True):
        code = line.split("#", 1)[0]
        match = re.fullmatch(r"\s*import\s+(/\S+)\s*", code)
        if depth == 0 and match:
            out += [Path(path).read_text().rstrip("\n") + "\n" for path in sorted(glob.glob(match.group(1)))]
            continue
        out.append(line)
        depth += code.count("{") - code.count("}")
    return "".join(out)


def corefile_for_lab(corefile: str, listen_ip: str, mounts: dict[str, Path], kubeconfig: Path, context: str) -> str:
    """The runtime copy of a Corefile: bound to the ClusterIP, with the lab's paths and API access."""
    # One pass, longest mount first: a nested mount's local path must not be rewritten again.
    locals_ = {mount.rstrip("/") + "/": str(local) + "/" for mount, local in mounts.items()}
    if locals_:
        prefixes = "|".join(re.escape(prefix) for prefix in sorted(locals_, key=len, reverse=True))
        corefile = re.sub(prefixes, lambda match: locals_[match.group(0)], corefile)
    corefile = inline_imports(corefile)
    out, depth = [], 0
    for line in corefile.splitlines():
        code = line.split("#", 1)[0]
        stripped = code.strip()
        if depth == 1:
            line = re.sub(r"^(\s*)health\b(?!\s+\S+:\d)", rf"\1health {listen_ip}:8080", line)
            line = re.sub(r"^(\s*)ready\b(?!\s+\S+:\d)", rf"\1ready {listen_ip}:8181", line)
            line = re.sub(r"^(\s*)prometheus\s+:(\d+)", rf"\1prometheus {listen_ip}:\2", line)
            line = line.replace("/etc/resolv.conf", NO_UPSTREAM)
        out.append(line)
        if depth == 1 and re.match(r"kubernetes\b", stripped):
            if stripped.endswith("{"):
                out.append(f"       kubeconfig {kubeconfig} {context}")
            else:
                out[-1] = line + " {"
                out.append(f"       kubeconfig {kubeconfig} {context}")
                out.append("    }")
        opened = code.count("{") - code.count("}")
        if depth == 0 and opened > 0:
            out.append(f"    bind {listen_ip}")
        depth += opened
    return "\n".join(out) + "\n"


def corefile_for_kube_dns(configmap: dict | None, listen_ip: str, kubeconfig: Path, context: str) -> str:
    """What kube-dns does with its ConfigMap (stubDomains, upstreamNameservers), as a Corefile."""
    data = (configmap or {}).get("data") or {}
    stub_domains = json.loads(data.get("stubDomains") or "{}")
    upstreams = json.loads(data.get("upstreamNameservers") or "[]")
    blocks = [
        f".:53 {{\n    bind {listen_ip}\n    errors\n"
        f"    kubernetes cluster.local in-addr.arpa ip6.arpa {{\n       kubeconfig {kubeconfig} {context}\n"
        f"       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n    }}\n"
        f"    forward . {' '.join(upstreams) if upstreams else NO_UPSTREAM}\n    cache 30\n}}\n"
    ]
    for zone, servers in sorted(stub_domains.items()):
        blocks.append(f"{zone}:53 {{\n    bind {listen_ip}\n    errors\n    forward . {' '.join(servers)}\n}}\n")
    return "".join(blocks)


class DnsServer:
    """One real CoreDNS process standing in for the pods of one Deployment."""

    def __init__(self, binary: Path, workdir: Path):
        self.binary, self.workdir = binary, workdir
        self.proc: subprocess.Popen | None = None
        self.corefile = ""
        self.reported = False

    def sync(self, corefile: str) -> None:
        if corefile == self.corefile and self.proc is not None:
            if self.proc.poll() is None:
                return
            if self.proc.returncode != 0 and not self.reported:  # not restarted until the Corefile changes
                self.reported = True
                tail = (self.workdir / "coredns.log").read_text(errors="replace").strip().splitlines()[-1:]
                log(f"CoreDNS for {self.workdir.name} exited {self.proc.returncode}: {' '.join(tail)}")
            return
        self.stop()
        self.reported = False
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "Corefile.lab"
        conf.write_text(corefile)
        self.corefile = corefile
        with open(self.workdir / "coredns.log", "ab") as out:
            self.proc = subprocess.Popen([str(self.binary), "-conf", str(conf)], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir)
        log(f"started CoreDNS for {self.workdir.name} (pid {self.proc.pid})")

    def stop(self) -> None:
        stop_process(self.proc, 5)
        self.proc = None


def _is_dns_deployment(deploy: dict) -> str | None:
    for c in deploy["spec"]["template"]["spec"].get("containers", []):
        image = c.get("image", "")
        if "k8s-dns-kube-dns" in image:
            return "kube-dns"
        if "coredns" in image.rsplit("/", 1)[-1]:
            return "coredns"
    return None


def _service_ip(services: list[dict], namespace: str, pod_labels: dict) -> str | None:
    for svc in services:
        selector = svc["spec"].get("selector") or {}
        if (svc["metadata"]["namespace"] == namespace and selector and svc["spec"].get("clusterIP") not in (None, "None")
                and all(pod_labels.get(k) == v for k, v in selector.items())):
            return svc["spec"]["clusterIP"]
    return None


class ClusterAgent:
    def __init__(self, state: LabState, cluster, coredns_binary: Path, istiod_binary: Path | None):
        self.cluster = cluster
        self.state = state
        self.dir = state_dir() / cluster.name
        self.api = Api(cluster.server, self.dir / "pki")
        self.coredns_binary, self.istiod_binary = coredns_binary, istiod_binary
        self.servers: dict[str, DnsServer] = {}
        self.istiods: dict[str, Istiod] = {}

    def tick(self) -> None:
        services = self.api.list("v1", "Service")
        self.assign_load_balancers(services)
        deployments = self.api.list("apps/v1", "Deployment")
        self.run_dns_servers(services, deployments)
        self.run_istiods(services, deployments)

    def assign_load_balancers(self, services: list[dict]) -> None:
        if lb_disabled_flag(self.cluster.name).exists():
            return
        used = {ing.get("ip") for s in services for ing in (s.get("status") or {}).get("loadBalancer", {}).get("ingress", [])}
        for svc in services:
            if svc["spec"].get("type") != "LoadBalancer" or (svc.get("status") or {}).get("loadBalancer", {}).get("ingress"):
                continue
            meta = svc["metadata"]
            if self.state.lb_mode == "hostname":
                ingress = {"hostname": f"{meta['name']}-{meta['namespace']}.{self.cluster.name}.elb.lab.test"}
            else:
                n = next(i for i in range(1, 255) if f"{self.cluster.lb_prefix}.{i}" not in used)
                ingress = {"ip": f"{self.cluster.lb_prefix}.{n}", "ipMode": "VIP"}
                used.add(ingress["ip"])
            self.api.request("PATCH", f"/api/v1/namespaces/{meta['namespace']}/services/{meta['name']}/status",
                             {"status": {"loadBalancer": {"ingress": [ingress]}}},
                             content_type="application/merge-patch+json")
            log(f"{self.cluster.name}: load balancer {meta['namespace']}/{meta['name']} -> {ingress}")

    def run_dns_servers(self, services: list[dict], deployments: list[dict]) -> None:
        wanted: dict[str, str] = {}
        for deploy in deployments:
            kind = _is_dns_deployment(deploy)
            meta = deploy["metadata"]
            pod = deploy["spec"]["template"]
            ip = _service_ip(services, meta["namespace"], (pod.get("metadata") or {}).get("labels") or {})
            if not kind or not ip:
                continue
            key = f"{meta['namespace']}.{meta['name']}"
            workdir = self.dir / "dns" / key
            kubeconfig = self.dir / "coredns.kubeconfig"
            if kind == "kube-dns":
                volumes = pod["spec"].get("volumes", [])
                cm_name = next((v["configMap"]["name"] for v in volumes if "configMap" in v), "kube-dns")
                corefile = corefile_for_kube_dns(self.api.get("v1", "ConfigMap", cm_name, meta["namespace"]), ip,
                                                 kubeconfig, self.cluster.name)
            else:
                corefile = self._materialize_coredns(pod, meta["namespace"], workdir, ip, kubeconfig)
            if corefile is not None:
                wanted[key] = corefile
                self.servers.setdefault(key, DnsServer(self.coredns_binary, workdir)).sync(corefile)
        for key in list(self.servers):
            if key not in wanted:
                self.servers.pop(key).stop()
                log(f"{self.cluster.name}: stopped CoreDNS for {key} (Deployment or Service gone)")

    def _materialize_coredns(self, pod, namespace, workdir, ip, kubeconfig) -> str | None:
        """Mount the container's volumes as the kubelet would, and adapt the Corefile."""
        container = pod["spec"]["containers"][0]
        args = container.get("args") or []
        conf_path = args[args.index("-conf") + 1] if "-conf" in args else "/etc/coredns/Corefile"
        mounts, _changed = Volumes(self.api, namespace, pod["spec"], workdir / "files").sync(container)
        mount = next((m for m in sorted(mounts, key=len, reverse=True) if conf_path.startswith(m.rstrip("/") + "/")), None)
        if mount is None:
            return None
        conf = mounts[mount] / conf_path[len(mount.rstrip("/")) + 1:]
        if not conf.is_file():
            return None
        return corefile_for_lab(conf.read_text(), ip, mounts, kubeconfig, self.cluster.name)

    def run_istiods(self, services: list[dict], deployments: list[dict]) -> None:
        wanted = set()
        for deploy in deployments if self.istiod_binary else []:
            meta = deploy["metadata"]
            if not is_istiod(deploy):
                continue
            pod = newest_pod(self.api, deploy)
            labels = (pod or {}).get("metadata", {}).get("labels") or {}
            service = next((s for s in services if _service_ip([s], meta["namespace"], labels)), None)
            if pod is None or service is None:
                continue
            key = f"{meta['namespace']}.{meta['name']}"
            wanted.add(key)
            if key not in self.istiods:
                self.istiods[key] = Istiod(self.istiod_binary, self.dir / "istiod" / key, self.dir / "logs" / f"{key}.log",
                                           self.api, self.cluster.server, self.dir / "pki" / "ca.crt")
            self.istiods[key].sync(pod, service)
        for key in list(self.istiods):
            if key not in wanted:
                self.istiods.pop(key).stop()
                log(f"{self.cluster.name}: stopped istiod {key} (Deployment, pod or Service gone)")

    def stop(self) -> None:
        for server in [*self.servers.values(), *self.istiods.values()]:
            server.stop()


def run() -> None:
    state = LabState.load()
    if state is None:
        raise SystemExit("no lab state; start one with `python -m lab up`")
    coredns = Path(state.binaries["coredns"])
    istiod = Path(state.binaries["pilot-discovery"]) if "pilot-discovery" in state.binaries else None
    if istiod is None:
        log("no pilot-discovery binary (python -m lab build): istiod pods stay simulated")
    agents = [ClusterAgent(state, c, coredns, istiod) for c in state.clusters]
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    log(f"agent running for {', '.join(c.name for c in state.clusters)}")
    try:
        while not stopping:
            for agent in agents:
                try:
                    agent.tick()
                except (ApiError, OSError) as exc:
                    print(f"[lab] {agent.cluster.name}: {exc}", file=sys.stderr, flush=True)
            time.sleep(TICK)
    finally:
        for agent in agents:
            agent.stop()
