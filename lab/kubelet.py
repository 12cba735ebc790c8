"""What a kubelet does for the processes the lab agent runs in place of simulated pods.

Pods are simulated by kwok; for a few Deployments (CoreDNS, istiod) the agent runs the real program
instead. Like a kubelet it mounts the pod's volumes - ConfigMaps and Secrets written with the
kubelet's atomic writer (a timestamped directory behind the `..data` symlink, swapped in one
rename, so that file watchers such as istiod's see a rotation as one change), service account
tokens, empty directories - and resolves the container's environment.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from pathlib import Path

from .api import Api

DATA_LINK = "..data"


def write_atomic(target: Path, files: dict[str, bytes]) -> bool:
    """Make `target` hold exactly `files` (relative path -> content) as the kubelet's atomic writer
    does. Returns True when something changed."""
    current = target / DATA_LINK
    if current.is_dir() and _read_tree(current) == files:
        return False
    target.mkdir(parents=True, exist_ok=True)
    stamp = target / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
    for rel, content in files.items():
        path = stamp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    old = os.readlink(current) if current.is_symlink() else None
    tmp_link = target / "..data_tmp"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(stamp.name)
    tmp_link.replace(current)
    for rel in files:
        top = rel.split("/", 1)[0]
        link = target / top
        if not link.is_symlink():
            link.symlink_to(f"{DATA_LINK}/{top}")
    for entry in target.iterdir():  # files no longer in the volume
        if entry.is_symlink() and not entry.name.startswith("..") and entry.name not in {r.split("/", 1)[0] for r in files}:
            entry.unlink()
    if old:
        shutil.rmtree(target / old, ignore_errors=True)
    return True


def _read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _items(data: dict[str, bytes], items: list[dict] | None) -> dict[str, bytes]:
    if not items:
        return dict(data)
    return {item["path"]: data[item["key"]] for item in items if item["key"] in data}


class Volumes:
    """Mounts one pod's volumes under `root` (a mount path /etc/x becomes root/etc/x)."""

    def __init__(self, api: Api, namespace: str, pod_spec: dict, root: Path):
        self.api, self.namespace, self.root = api, namespace, root
        self.spec = pod_spec
        self.volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
        self.tokens: dict[tuple[str, int], tuple[float, str]] = {}

    def local(self, mount_path: str) -> Path:
        return self.root / mount_path.strip("/")

    def sync(self, container: dict) -> tuple[dict[str, Path], bool]:
        """Mount every volume of the container; ({mount path: local dir}, whether any content changed)."""
        mounts, changed = {}, False
        for mount in container.get("volumeMounts") or []:
            volume = self.volumes.get(mount["name"])
            if volume is None:
                continue
            files = self._contents(volume)
            local = self.local(mount["mountPath"])
            mounts[mount["mountPath"]] = local
            if files is None:  # emptyDir and kinds the lab has no use for: a directory
                local.mkdir(parents=True, exist_ok=True)
            else:
                changed |= write_atomic(local, files)
        return mounts, changed

    def _contents(self, volume: dict) -> dict[str, bytes] | None:
        if "configMap" in volume:
            return self._config_map(volume["configMap"])
        if "secret" in volume:
            return self._secret(volume["secret"])
        if "projected" in volume:
            files: dict[str, bytes] = {}
            for source in volume["projected"].get("sources") or []:
                if "serviceAccountToken" in source:
                    token = source["serviceAccountToken"]
                    files[token["path"]] = self.token(token.get("audience"), token.get("expirationSeconds", 3600)).encode()
                elif "configMap" in source:
                    files.update(self._config_map(source["configMap"]))
                elif "secret" in source:
                    files.update(self._secret(source["secret"]))
            return files
        return None

    def _config_map(self, ref: dict) -> dict[str, bytes]:
        cm = self.api.get("v1", "ConfigMap", ref["name"], self.namespace) or {}
        data = {k: v.encode() for k, v in (cm.get("data") or {}).items()}
        data.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
        return _items(data, ref.get("items"))

    def _secret(self, ref: dict) -> dict[str, bytes]:
        secret = self.api.get("v1", "Secret", ref["secretName"], self.namespace) or {}
        return _items({k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}, ref.get("items"))

    def token(self, audience: str | None, lifetime: int) -> str:
        """A token of the pod's service account, renewed at 80 % of its life as the kubelet does."""
        key = (audience or "", int(lifetime))
        issued, token = self.tokens.get(key, (0.0, ""))
        if time.time() - issued < 0.8 * lifetime:
            return token
        account = self.spec.get("serviceAccountName") or "default"
        spec = {"expirationSeconds": int(lifetime)}
        if audience:
            spec["audiences"] = [audience]
        answer = self.api.request(
            "POST", f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{account}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
        self.tokens[key] = (time.time(), answer["status"]["token"])
        return answer["status"]["token"]


def container_env(container: dict, pod_name: str, namespace: str, pod_spec: dict) -> dict[str, str]:
    """The container's environment with the downward API resolved (plain values and field refs)."""
    fields = {"metadata.name": pod_name, "metadata.namespace": namespace,
              "spec.serviceAccountName": pod_spec.get("serviceAccountName") or "default",
              "spec.nodeName": pod_spec.get("nodeName") or "", "status.podIP": "", "status.hostIP": "127.0.0.1"}
    env = {}
    for var in container.get("env") or []:
        source = var.get("valueFrom") or {}
        if "value" in var or not source:
            env[var["name"]] = str(var.get("value", ""))
        elif "fieldRef" in source:
            env[var["name"]] = fields.get(source["fieldRef"]["fieldPath"], "")
        elif "resourceFieldRef" in source:
            # Without a limit a kubelet exposes the node's allocatable amount: here, the machine's CPUs.
            resource = source["resourceFieldRef"]["resource"].split(".", 1)[1]
            limit = str(((container.get("resources") or {}).get("limits") or {}).get(resource) or "")
            if resource == "cpu":  # rounded up to whole CPUs (divisor 1)
                limit = str(-(-int(limit[:-1]) // 1000)) if limit.endswith("m") else limit
            env[var["name"]] = limit or str(os.cpu_count() or 1)
    return env


def stop_process(proc: subprocess.Popen | None, grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds, as a kubelet stops a container."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
