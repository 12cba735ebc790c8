"""The lab's own network namespace, where its pods can have addresses Kubernetes accepts as endpoints.

Kubernetes refuses loopback addresses in Endpoints and EndpointSlices, so pods with 127.x addresses
leave every Service without endpoints. Inside a network namespace of its own the lab gives pods
10.x addresses instead: the namespace's only interface is its `lo`, on which all of 10.0.0.0/8 is
local (bindable, and every packet to it stays on that `lo`), and it has no other route, so nothing
sent from inside can leave it. Every lab instance on the machine shares the one namespace (their
ports and ranges are apart); it outlives the labs. Creating it needs root and `ip`; without them the
lab runs in the host's namespace with loopback pods, as before.

A process joins with setns(2), which moves only the calling thread: join from the main thread
before starting threads or opening sockets; processes started afterwards inherit the namespace.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

from .state import LabError, log

NAME = "meshops-lab"
# Local on the namespace's lo: the range the lab's pod addresses come from (lab/state.py).
POD_RANGE = "10.0.0.0/8"
CLONE_NEWNET = 0x40000000


def path(name: str = NAME) -> Path:
    """Where `ip netns add` keeps the namespace (a bind mount that keeps it alive without processes)."""
    return Path("/run/netns") / name


def ensure(name: str = NAME) -> bool:
    """Create the namespace when it is missing and make the pod range local on its lo; False (and a
    log line saying why) when this process cannot."""
    ip = shutil.which("ip")
    if os.geteuid() != 0 or ip is None:
        log(f"no network namespace for the lab ({'not root' if ip else 'no `ip` command'}): "
            "pods get loopback addresses and Services no endpoints")
        return False
    if not path(name).exists():
        proc = subprocess.run([ip, "netns", "add", name], capture_output=True, text=True, check=False)
        # Another lab may have created it at the same moment: that it exists now is what counts.
        if not path(name).exists():
            log(f"no network namespace for the lab: `ip netns add {name}` failed: {proc.stderr.strip()}")
            return False
    for step in (["link", "set", "lo", "up"], ["route", "replace", "local", POD_RANGE, "dev", "lo"]):
        proc = subprocess.run([ip, "-n", name, *step], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            log(f"no network namespace for the lab: `ip -n {name} {' '.join(step)}` failed: {proc.stderr.strip()}")
            return False
    return True


def inside(name: str = NAME) -> bool:
    """Whether the calling thread is in the namespace."""
    try:
        here, there = os.stat("/proc/thread-self/ns/net"), os.stat(path(name))
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def enter(name: str = NAME) -> None:
    """Move the calling thread (the main thread, before it starts others) into the namespace."""
    if inside(name):
        return
    try:
        fd = os.open(path(name), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise LabError(f"the lab runs in network namespace {name}, which is gone ({path(name)} is missing): "
                       "nothing of it can be reached; run `python -m lab down` and start it again")
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise LabError(f"cannot enter the lab's network namespace {name}: {os.strerror(errno)}"
                           + (" (it needs root)" if errno == 1 else ""))
    finally:
        os.close(fd)
