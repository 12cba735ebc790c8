"""Find or build the lab's upstream binaries.

Lookup order for each binary: $LAB_BIN_DIR, the cache ($LAB_CACHE_DIR/bin/<component>-<version>/),
a binary of the pinned version on PATH, and only then a build from the Go module proxy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .config import cache_dir, load_versions


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Component:
    name: str
    module: str
    version: str
    packages: tuple[str, ...]
    binary_names: tuple[str, ...]
    staging_replaces: bool

    @classmethod
    def from_pin(cls, name: str, pin: dict) -> "Component":
        packages = tuple(pin["packages"])
        names = tuple(pin.get("binary_names") or (p.rsplit("/", 1)[-1] for p in packages))
        return cls(name, pin["module"], pin["version"], packages, names, bool(pin.get("staging_replaces")))

    @property
    def cache_path(self) -> Path:
        return cache_dir() / "bin" / f"{self.name}-{self.version}"


def components() -> list[Component]:
    return [Component.from_pin(name, pin) for name, pin in load_versions().items() if "packages" in pin]


def _log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def _version_matches(path: str, component: Component) -> bool:
    """A binary found on PATH is used only when it reports the pinned version."""
    for args in (["--version"], ["version"], ["version", "--client"]):
        try:
            out = subprocess.run([path, *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = out.stdout + out.stderr
        if re.search(rf"(?<![\d.]){re.escape(component.version.lstrip('v'))}(?![\d.])", text):
            return True
    return False


def locate(component: Component, binary: str) -> Path | None:
    bin_dir = os.environ.get("LAB_BIN_DIR")
    if bin_dir and (Path(bin_dir) / binary).is_file():
        return Path(bin_dir) / binary
    cached = component.cache_path / binary
    if cached.is_file():
        return cached
    on_path = shutil.which(binary)
    if on_path and _version_matches(on_path, component):
        return Path(on_path)
    return None


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
    if not go:
        raise BuildError(
            "no Go toolchain on PATH and no cached binaries: install Go (1.24 or newer), or put the "
            "pinned binaries (see lab/versions.toml) in a directory and set LAB_BIN_DIR to it"
        )
    return go


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")
    return proc.stdout


def _wrapper_go_mod(component: Component, go: str, env: dict[str, str], workdir: Path) -> str:
    """go.mod of a module that requires the component (and pins its staging modules).

    The go line is copied from the component: without one, Go loads the full, unpruned module
    graph of every dependency, which means hundreds of extra downloads.
    """
    info = json.loads(_run([go, "mod", "download", "-json", f"{component.module}@{component.version}"], workdir, env))
    if info.get("Error"):
        raise BuildError(f"{component.module}@{component.version}: {info['Error']}")
    upstream = Path(info["GoMod"]).read_text()
    go_line = re.search(r"^go (\S+)$", upstream, re.M)
    lines = ["module meshops.local/labbuild", "", f"go {go_line.group(1) if go_line else '1.24'}"]
    lines += re.findall(r"^godebug .*$", upstream, re.M)
    if component.staging_replaces:
        minor_patch = component.version.lstrip("v").split(".", 1)[1]
        for staging in re.findall(r"^\s*(k8s\.io/\S+) => \./staging/", upstream, re.M):
            lines.append(f"replace {staging} => {staging} v0.{minor_patch}")
    lines.append(f"require {component.module} {component.version}")
    return "\n".join(lines) + "\n"


def _ldflags(component: Component) -> str:
    flags = ["-s", "-w"]
    if component.name == "kubernetes":
        major, minor = component.version.lstrip("v").split(".")[:2]
        pkg = "k8s.io/component-base/version"
        flags += [
            f"-X {pkg}.gitVersion={component.version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X k8s.io/client-go/pkg/version.gitVersion={component.version}",
        ]
    return " ".join(flags)


def build(component: Component) -> Path:
    """Build every binary of a component into its cache directory."""
    go = _go()
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod -buildvcs=false", GOTOOLCHAIN="local")
    started = time.monotonic()
    _log(f"building {component.name} {component.version} ({', '.join(component.binary_names)}) from the Go module proxy ...")
    with tempfile.TemporaryDirectory(prefix=f"lab-build-{component.name}-") as tmp:
        workdir = Path(tmp)
        (workdir / "go.mod").write_text(_wrapper_go_mod(component, go, env, workdir))
        staging = workdir / "out"
        staging.mkdir()
        for package, binary in zip(component.packages, component.binary_names):
            import_path = component.module if package == "." else f"{component.module}/{package}"
            t0 = time.monotonic()
            _run([go, "build", "-trimpath", "-ldflags", _ldflags(component), "-o", str(staging / binary), import_path],
                 workdir, env)
            _log(f"  {binary}: {time.monotonic() - t0:.0f}s")
        component.cache_path.mkdir(parents=True, exist_ok=True)
        for binary in component.binary_names:
            shutil.move(str(staging / binary), component.cache_path / binary)
    _log(f"built {component.name} in {time.monotonic() - started:.0f}s -> {component.cache_path}")
    return component.cache_path


def ensure_binaries() -> dict[str, Path]:
    """Path of every lab binary, building the missing components."""
    found: dict[str, Path] = {}
    for component in components():
        paths = {b: locate(component, b) for b in component.binary_names}
        if any(p is None for p in paths.values()):
            build(component)
            paths = {b: component.cache_path / b for b in component.binary_names}
        found.update(paths)
    return found


def ensure_istio_source() -> Path:
    """Directory of the pinned istio.io/istio module (charts, CRDs, samples)."""
    pin = load_versions()["istio"]
    go = _go()
    _log(f"fetching istio.io/istio {pin['release']} ({pin['version']}) through the Go module proxy ...")
    out = _run([go, "mod", "download", "-json", f"{pin['module']}@{pin['version']}"], Path.cwd(),
               dict(os.environ, GOFLAGS="-mod=mod"))
    info = json.loads(out)
    if info.get("Error"):
        raise BuildError(f"istio.io/istio@{pin['version']}: {info['Error']}")
    return Path(info["Dir"])


ISTIO_CHARTS = {"base": "base", "istiod": "istio-control/istio-discovery", "gateway": "gateway"}


def ensure_istio_charts() -> Path:
    """The pinned Istio charts as a local chart directory, versioned like a release.

    Istio's release process stamps the chart version when it packages the charts; the source
    tree says 1.0.0. The copy gets the pinned release as version and appVersion.
    """
    pin = load_versions()["istio"]
    target = cache_dir() / "istio" / pin["version"] / "charts"
    if (target / "gateway" / "Chart.yaml").is_file():
        return target
    source = ensure_istio_source() / "manifests" / "charts"
    tmp = target.with_name("charts.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for name, rel in ISTIO_CHARTS.items():
        shutil.copytree(source / rel, tmp / name)
        for path in (tmp / name).rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        chart = tmp / name / "Chart.yaml"
        text = re.sub(r"^version: .*$", f"version: {pin['release']}", chart.read_text(), flags=re.M)
        chart.write_text(re.sub(r"^appVersion: .*$", f"appVersion: {pin['release']}", text, flags=re.M))
    shutil.copy(source / "base" / "files" / "crd-all.gen.yaml", tmp / "crd-all.gen.yaml")
    tmp.chmod(0o755)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target
