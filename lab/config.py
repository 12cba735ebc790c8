"""Where the lab keeps its pins, cache and state."""

from __future__ import annotations

import os
import tomllib
from functools import cache
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
REPO_DIR = LAB_DIR.parent


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
