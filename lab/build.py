"""Find or build the lab's upstream binaries.

Lookup order for each binary: $LAB_BIN_DIR, the cache ($LAB_CACHE_DIR/bin/<component>-<version>/),
a binary of the pinned version on PATH, and only then a build from the Go module proxy.

The Go module proxy refuses some versions (`403 ... not available`) and what it serves changes:
every failed fetch shows the proxy's own answer (the `Error` field of `go mod download -json`)
and what to do about it. Istio is resolved among several served candidates (see versions.toml).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .config import REPO_DIR, cache_dir, load_versions

# How often a long build reports that it is still going.
PROGRESS_EVERY = 60.0
REMEDY = ("set LAB_BIN_DIR to a directory holding the pinned binaries (see lab/versions.toml), "
          "or try again later: what the Go module proxy serves changes")


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Component:
    name: str
    module: str
    version: str
    packages: tuple[str, ...]
    binary_names: tuple[str, ...]
    staging_replaces: bool = False
    build_tags: tuple[str, ...] = ()
    # A package of this repository (lab/xdsprobe) built inside the wrapper module.
    source: str = ""
    # The version the binaries report (Istio's release label).
    release: str = ""

    @classmethod
    def from_pin(cls, name: str, pin: dict) -> "Component":
        packages = tuple(pin["packages"])
        names = tuple(pin.get("binary_names") or (p.rsplit("/", 1)[-1] for p in packages))
        return cls(name, pin["module"], pin["version"], packages, names, bool(pin.get("staging_replaces")),
                   tuple(pin.get("build_tags") or ()), release=pin.get("release", ""))

    @property
    def cache_path(self) -> Path:
        suffix = f"-{_source_digest(self.source)}" if self.source else ""
        return cache_dir() / "bin" / f"{self.name}-{self.version}{suffix}"


@dataclass(frozen=True)
class IstioRelease:
    """The Istio the lab uses: a served module version and the release label it is stamped with."""
    module: str
    version: str
    release: str
    source_dir: Path


def _log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def _source_digest(source: str) -> str:
    digest = hashlib.sha256()
    for path in sorted((REPO_DIR / source).rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(REPO_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def components() -> list[Component]:
    """Every component the lab needs, Istio's at the resolved release."""
    found = []
    for name, pin in load_versions().items():
        if name == "istio":
            istio = resolve_istio()
            found.append(Component.from_pin(name, dict(pin, version=istio.version, release=istio.release)))
        elif "uses" in pin:
            base = next(c for c in found if c.name == pin["uses"])
            probe = Path(pin["source"]).name
            found.append(Component(name, base.module, base.version, (probe,), (probe,), False, base.build_tags,
                                   pin["source"], base.release))
        elif "packages" in pin:
            found.append(Component.from_pin(name, pin))
    return found


def component(name: str) -> Component:
    return next(c for c in components() if c.name == name)


def _version_matches(path: str, component: Component) -> bool:
    """A binary found on PATH is used only when it reports the pinned version."""
    for args in (["--version"], ["version"], ["version", "--client"]):
        try:
            out = subprocess.run([path, *args], capture_output=True, text=True, timeout=20, check=False)
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
    if on_path and not component.source and _version_matches(on_path, component):
        return Path(on_path)
    return None


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
    if not go:
        raise BuildError(
            "no Go toolchain on PATH and no cached binaries: install Go (1.26 or newer), or put the "
            "pinned binaries (see lab/versions.toml) in a directory and set LAB_BIN_DIR to it"
        )
    return go


def _go_env() -> dict[str, str]:
    return dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod -buildvcs=false", GOTOOLCHAIN="local")


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")
    return proc.stdout


def module_download(module: str, version: str) -> tuple[dict | None, str]:
    """(`go mod download -json` result, "") or (None, the proxy's answer) for module@version.

    A refused version makes `go mod download` exit 1 with an empty stderr: the reason is only in
    the JSON's Error field, which is what the caller shows.
    """
    with tempfile.TemporaryDirectory(prefix="lab-mod-") as tmp:
        proc = subprocess.run([_go(), "mod", "download", "-json", f"{module}@{version}"], cwd=tmp,
                              env=dict(os.environ, GOFLAGS="-mod=mod", GOTOOLCHAIN="local"),
                              capture_output=True, text=True, check=False)
    try:
        info = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError:
        info = {}
    error = info.get("Error") or ("" if proc.returncode == 0 else proc.stderr.strip() or f"exit {proc.returncode}")
    if error:
        return None, error.replace("\n\t", " ").strip()
    return info, ""


def _download_or_fail(module: str, version: str, what: str) -> dict:
    info, error = module_download(module, version)
    if info is None:
        raise BuildError(f"{what}: the Go module proxy refused {module}@{version}:\n  {error}\n{REMEDY}")
    return info


def _wrapper_go_mod(component: Component) -> str:
    """go.mod of a module that requires the component (and pins its staging modules).

    The go line is copied from the component: without one, Go loads the full, unpruned module
    graph of every dependency, which means hundreds of extra downloads.
    """
    info = _download_or_fail(component.module, component.version, f"building {component.name}")
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
    elif component.module == "istio.io/istio":
        # What Istio's release build stamps (common/scripts/report_build_info.sh).
        pkg = "istio.io/istio/pkg/version"
        flags += [f"-X {pkg}.buildVersion={component.release}",
                  # a pseudo-version ends with the commit
                  f"-X {pkg}.buildGitRevision={component.version.rsplit('-', 1)[-1]}",
                  f"-X {pkg}.buildTag={component.release}", f"-X {pkg}.buildStatus=Clean",
                  f"-X {pkg}.buildHub=meshops-lab", f"-X {pkg}.buildOS=linux", f"-X {pkg}.buildArch=amd64"]
    return " ".join(flags)


def _go_build(cmd: list[str], workdir: Path, env: dict[str, str], what: str) -> None:
    """Run `go build -v`, reporting every PROGRESS_EVERY seconds how many packages are compiled."""
    log_path = workdir / "build.log"
    started = time.monotonic()
    with open(log_path, "w") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            try:
                proc.wait(PROGRESS_EVERY)
            except subprocess.TimeoutExpired:
                done = sum(1 for line in log_path.read_text(errors="replace").splitlines() if not line.startswith(("go:", "#")))
                _log(f"  {what}: still building, {done} packages compiled in {time.monotonic() - started:.0f}s")
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        refused = re.search(r"(\S+@\S+): reading \S+: 403 Forbidden\s*server response: (.*)", tail)
        hint = f"\nthe Go module proxy refused {refused.group(1)}: {refused.group(2)}" if refused else ""
        raise BuildError(f"{what}: go build failed:\n{tail}{hint}\n{REMEDY}")


def build(component: Component) -> Path:
    """Build every binary of a component into its cache directory."""
    go = _go()
    env = _go_env()
    started = time.monotonic()
    label = component.release or component.version
    _log(f"building {component.name} {label} ({', '.join(component.binary_names)}) from the Go module proxy ...")
    with tempfile.TemporaryDirectory(prefix=f"lab-build-{component.name}-") as tmp:
        workdir = Path(tmp)
        (workdir / "go.mod").write_text(_wrapper_go_mod(component))
        if component.source:
            shutil.copytree(REPO_DIR / component.source, workdir / component.packages[0])
        staging = workdir / "out"
        staging.mkdir()
        tags = ["-tags", ",".join(component.build_tags)] if component.build_tags else []
        for package, binary in zip(component.packages, component.binary_names):
            if component.source:
                import_path = f"./{package}"
            else:
                import_path = component.module if package == "." else f"{component.module}/{package}"
            t0 = time.monotonic()
            _go_build([go, "build", "-v", "-trimpath", *tags, "-ldflags", _ldflags(component),
                       "-o", str(staging / binary), import_path], workdir, env, f"{component.name}/{binary}")
            _log(f"  {binary}: {time.monotonic() - t0:.0f}s")
        component.cache_path.mkdir(parents=True, exist_ok=True)
        for binary in component.binary_names:
            shutil.move(str(staging / binary), component.cache_path / binary)
    if component.source:  # builds of earlier versions of our own source are of no more use
        for old in component.cache_path.parent.glob(f"{component.name}-{component.version}-*"):
            if old != component.cache_path:
                shutil.rmtree(old, ignore_errors=True)
    _log(f"built {component.name} in {time.monotonic() - started:.0f}s -> {component.cache_path}")
    return component.cache_path


def ensure_binaries() -> dict[str, Path]:
    """Path of every lab binary, building the missing components."""
    found: dict[str, Path] = {}
    for comp in components():
        paths = {b: locate(comp, b) for b in comp.binary_names}
        if any(p is None for p in paths.values()):
            build(comp)
            paths = {b: comp.cache_path / b for b in comp.binary_names}
        found.update(paths)
    return found


# --- Istio: which served version, its charts ---------------------------------------------------

def _istio_candidates() -> list[dict]:
    pin = load_versions()["istio"]
    override = os.environ.get("LAB_ISTIO_VERSION")
    if override:
        return [{"version": override, "release": os.environ.get("LAB_ISTIO_RELEASE", ""), "branch": "LAB_ISTIO_VERSION"}]
    return [{"version": pin["version"], "release": pin["release"], "branch": pin.get("branch", "")},
            *pin.get("fallbacks", [])]


def _resolved_marker(version: str) -> Path:
    return cache_dir() / "istio" / version / "resolved.json"


def _istio_dependency_errors(go_mod: str) -> list[str]:
    """The proxy's answers for the istio.io/api and istio.io/client-go versions a go.mod pins."""
    errors = []
    for module, version in re.findall(r"^\s*(istio\.io/(?:api|client-go)) (\S+)", go_mod, re.M):
        info, error = module_download(module, version)
        if info is None:
            errors.append(error)
    return errors


def _try_istio(module: str, candidate: dict) -> tuple[IstioRelease | None, str]:
    version = candidate["version"]
    marker = _resolved_marker(version)
    info, error = module_download(module, version)
    if info is None:
        return None, error
    errors = _istio_dependency_errors(Path(info["GoMod"]).read_text()) if not marker.is_file() else []
    if errors:
        return None, "its dependencies are refused: " + "; ".join(errors)
    release = candidate.get("release") or (Path(info["Dir"]) / "VERSION").read_text().strip() + "-dev"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"version": version, "release": release}))
    return IstioRelease(module, version, release, Path(info["Dir"])), ""


@cache
def resolve_istio() -> IstioRelease:
    """The first Istio candidate the proxy serves, with its api/client-go pins; says which and why."""
    module = load_versions()["istio"]["module"]
    refusals = []
    for candidate in _istio_candidates():
        istio, error = _try_istio(module, candidate)
        if istio:
            if refusals:
                _log(f"Istio {candidate.get('release') or candidate['version']} is used instead of the pin:")
                for line in refusals:
                    _log(f"  {line}")
            _log(f"Istio {istio.release}: {module}@{istio.version} ({candidate.get('branch') or 'override'})")
            return istio
        refusals.append(f"{candidate['version']} ({candidate.get('branch')}): {error}")
    raise BuildError(
        "no Istio version the lab knows is served by the Go module proxy:\n  " + "\n  ".join(refusals)
        + "\nSet LAB_ISTIO_VERSION to a served pseudo-version of istio.io/istio (a branch head; check it with "
          "`go mod download -json istio.io/istio@<version>`, whose Error field tells), optionally "
          "LAB_ISTIO_RELEASE to its label, or add it to the fallbacks in lab/versions.toml.")


ISTIO_CHARTS = {"base": "base", "istiod": "istio-control/istio-discovery", "gateway": "gateway"}


def ensure_istio_charts() -> Path:
    """The resolved Istio's charts as a local chart directory, versioned like a release.

    Istio's release process stamps the chart version when it packages the charts; the source
    tree says 1.0.0. The copy gets the release label as version and appVersion.
    """
    istio = resolve_istio()
    target = cache_dir() / "istio" / istio.version / "charts"
    if (target / "gateway" / "Chart.yaml").is_file():
        return target
    source = istio.source_dir / "manifests" / "charts"
    tmp = target.with_name("charts.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for name, rel in ISTIO_CHARTS.items():
        shutil.copytree(source / rel, tmp / name)
        for path in (tmp / name).rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        chart = tmp / name / "Chart.yaml"
        text = re.sub(r"^version: .*$", f"version: {istio.release}", chart.read_text(), flags=re.M)
        chart.write_text(re.sub(r"^appVersion: .*$", f"appVersion: {istio.release}", text, flags=re.M))
    shutil.copy(source / "base" / "files" / "crd-all.gen.yaml", tmp / "crd-all.gen.yaml")
    tmp.chmod(0o755)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target
