"""`make sanity`: a plain `ansible-test sanity`, as a contributor or a collection's CI runs it, over
every file of the repository (lab/, bench/ and tests/ included), on each Python an ansible-core
controller runs on (tests/config.yml: our modules run on the controller).

What this wrapper adds to ansible-test, and only that:
- the layout ansible-test requires, ansible_collections/meshops/multicluster/, as a copy of the
  repository's files in a temporary directory of this run's own (two runs at once never share one);
- the controller Pythons on PATH under the names ansible-test looks for (python3.11, ...), found in
  pyenv's versions or on PATH; pyenv's shims are left off PATH, since ansible-test would take a
  shim of a version pyenv does not activate for a working interpreter;
- ansible-test's pip bootstrap script, which it would download from a site this machine cannot
  reach (tests/sanity_get_pip.py).
Arguments go to ansible-test: `tests/sanity.py --test pep8`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ansible_test._util.target.common.constants import CONTROLLER_PYTHON_VERSIONS
from build_collection import REPO, repository_files

COLLECTION_PATH = Path("ansible_collections") / "meshops" / "multicluster"
GET_PIP = Path.home() / ".ansible" / "test" / "cache"
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def files() -> list[str]:
    """The repository's files, as the next commit would have them. The copy has no git for
    ansible-test to ask, so it tests every file it finds there: exactly these."""
    return sorted(f for f in repository_files() if (REPO / f).is_file())


def lay_out(copy: Path) -> None:
    for name in files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, copy / name)


def pinned_pip() -> str:
    """The pip version ansible-test bootstraps (it names the bootstrap script after it)."""
    import ansible_test
    source = (Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
    match = re.search(r"\bpip='([0-9.]+)'", source)
    if not match:
        raise SystemExit("cannot find the pip version ansible-test bootstraps; update tests/sanity.py")
    return match.group(1)


def bootstrap_pip() -> None:
    """ansible-test bootstraps pip in its venvs with a script from a site outside the package
    registries; ours gives it pip from the standard library instead. Written under a name of its own,
    then renamed: a run beside this one never reads half a script."""
    GET_PIP.mkdir(parents=True, exist_ok=True)
    target = GET_PIP / f"get_pip_{pinned_pip().replace('.', '_')}.py"
    partial = target.with_name(f"{target.name}.{os.getpid()}")
    shutil.copy(REPO / "tests" / "sanity_get_pip.py", partial)
    partial.replace(target)


def without_pyenv_shims(path: str) -> list[str]:
    return [entry for entry in path.split(os.pathsep) if not (Path(entry).name == "shims" and "pyenv" in entry)]


def candidates(version: str) -> list[Path]:
    """Where Python `version` may be: the installation this venv was made from, pyenv's versions
    (newest patch first), then PATH."""
    name = f"python{version}"
    pyenv = sorted(PYENV_VERSIONS.glob(f"{version}.*/bin/{name}"),
                   key=lambda p: [int(part) for part in p.parts[-3].split(".") if part.isdigit()], reverse=True)
    on_path = shutil.which(name, path=os.pathsep.join(without_pyenv_shims(os.environ.get("PATH", ""))))
    return [Path(sys.base_prefix) / "bin" / name, *pyenv, *([Path(on_path)] if on_path else [])]


def usable(python: Path, version: str) -> bool:
    """Whether `python` runs, is `version`, and can make the venvs ansible-test makes (venv, ensurepip)."""
    if not python.is_file():
        return False
    check = "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"
    run = subprocess.run([str(python), "-c", check], capture_output=True, text=True, check=False)
    return run.returncode == 0 and run.stdout.strip() == version


def controller_pythons() -> dict[str, Path]:
    found = {version: next((p for p in candidates(version) if usable(p, version)), None)
             for version in CONTROLLER_PYTHON_VERSIONS}
    missing = [version for version, python in found.items() if python is None]
    if missing:
        raise SystemExit(f"sanity: no usable Python {', '.join(missing)} (with venv and ensurepip) in "
                         f"{PYENV_VERSIONS} or on PATH; ansible-core's controller Pythons are "
                         f"{', '.join(CONTROLLER_PYTHON_VERSIONS)}: install the missing ones (e.g. pyenv install)")
    return found


def main() -> int:
    pythons = controller_pythons()
    for version, python in pythons.items():
        print(f"sanity: Python {version}: {python}", flush=True)
    with tempfile.TemporaryDirectory(prefix="meshops-sanity-") as top:
        bin_dir = Path(top) / "bin"
        bin_dir.mkdir()
        for version, python in pythons.items():
            (bin_dir / f"python{version}").symlink_to(python)
        copy = Path(top) / COLLECTION_PATH
        lay_out(copy)
        bootstrap_pip()
        path = os.pathsep.join([str(bin_dir), *without_pyenv_shims(os.environ.get("PATH", ""))])
        ansible_test = Path(sys.executable).parent / "ansible-test"
        return subprocess.run([str(ansible_test), "sanity", *sys.argv[1:]], cwd=copy, env=dict(os.environ, PATH=path),
                              check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
