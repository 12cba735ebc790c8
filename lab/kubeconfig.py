"""Kubeconfig files for the lab: one per component identity, and the user's with every cluster."""

from __future__ import annotations

from pathlib import Path

import yaml


def _entry(name: str, server: str, pki: Path, identity: str) -> tuple[dict, dict, dict]:
    cluster = {"name": name, "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")}}
    user = {"name": f"{name}-{identity}", "user": {"client-certificate": str(pki / f"{identity}.crt"),
                                                   "client-key": str(pki / f"{identity}.key")}}
    context = {"name": name, "context": {"cluster": name, "user": f"{name}-{identity}"}}
    return cluster, user, context


def write_kubeconfig(path: Path, entries: list[tuple[str, str, Path]], identity: str = "admin") -> None:
    """entries: (cluster/context name, API URL, pki dir). The first is the current context."""
    clusters, users, contexts = [], [], []
    for name, server, pki in entries:
        cluster, user, context = _entry(name, server, pki, identity)
        clusters.append(cluster)
        users.append(user)
        contexts.append(context)
    doc = {"apiVersion": "v1", "kind": "Config", "clusters": clusters, "users": users, "contexts": contexts,
           "current-context": entries[0][0], "preferences": {}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
