"""Where the lab keeps its pins, cache and state."""

from __future__ import annotations

import os
import sys
import tomllib
from functools import cache
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
REPO_DIR = LAB_DIR.parent


@cache
def collection_on_path() -> Path:
    """Make this repository importable as ansible_collections.meshops.multicluster (the name the
    collection's code uses for itself, so that no file is loaded under two names): a link under
    .cache/collections, put first on sys.path. Returns that collections root."""
    root = REPO_DIR / ".cache" / "collections"
    link = root / "ansible_collections" / "meshops" / "multicluster"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(REPO_DIR, link)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return root


@cache
def load_versions() -> dict:
    with open(LAB_DIR / "versions.toml", "rb") as f:
        return tomllib.load(f)


def cache_dir() -> Path:
    """Built binaries live outside the repository, shared by every checkout on the machine."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "meshops-lab"
    return Path(os.environ.get("LAB_CACHE_DIR", default))


def state_dir() -> Path:
    """Runtime state of the running lab (certs, etcd data, logs, kubeconfig)."""
    return Path(os.environ.get("LAB_STATE_DIR", REPO_DIR / ".lab"))


def instance() -> int:
    """Several labs can run side by side (the demo's and the tests'): each instance gets its own
    ports and address ranges. Set LAB_INSTANCE (0 to 5) with its own LAB_STATE_DIR: 0 is the demo's,
    1 the integration tests', 2 the benchmarks', 3 a second lab of the tests, 4 and 5 spare (developers)."""
    value = int(os.environ.get("LAB_INSTANCE", "0"))
    if not 0 <= value <= 5:
        raise ValueError(f"LAB_INSTANCE={value}: expected 0 to 5")
    return value


def inventory_dir() -> Path:
    return Path(os.environ.get("LAB_INVENTORY_DIR", REPO_DIR / "inventory" / "lab"))
