"""`make sanity`: ansible-test sanity on a copy of the tree laid out as
ansible_collections/meshops/multicluster/ (what ansible-test requires)."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath

import yaml

REPO = Path(__file__).resolve().parents[1]
# The copy goes outside the repository (inside it, git - which ansible-test asks - would ignore it),
# into a directory of this run's own: two runs at once (worktrees, CI beside a developer) never share it.
COLLECTION_PATH = Path("ansible_collections") / "meshops" / "multicluster"
GET_PIP = Path.home() / ".ansible" / "test" / "cache"


def build_ignore() -> list[str]:
    """The patterns of galaxy.yml's build_ignore, read from galaxy.yml rather than repeated here:
    what `ansible-galaxy collection build` leaves out (lab/, bench/, .ci/, ...) is not part of the
    collection, so it is not sanity-tested either."""
    meta = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
    return list(meta.get("build_ignore") or [])


def built(name: str, patterns: list[str]) -> bool:
    """Whether the collection build keeps file `name`: as ansible-galaxy does, a file is left out
    when its relative path or that of one of its parent directories matches a pattern (fnmatch)."""
    parts = PurePosixPath(name).parts
    return not any(fnmatch.fnmatch("/".join(parts[:depth]), pattern)
                   for depth in range(1, len(parts) + 1) for pattern in patterns)


def files() -> list[str]:
    """Tracked and new (not ignored) files, as the next commit would have them, less those the
    collection build leaves out."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                         check=True).stdout
    patterns = build_ignore()
    return [f for f in out.decode().split("\0") if f and (REPO / f).is_file() and built(f, patterns)]


def pinned_pip() -> str:
    """The pip version ansible-test bootstraps (it names the bootstrap script after it)."""
    import ansible_test
    source = (Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
    match = re.search(r"\bpip='([0-9.]+)'", source)
    if not match:
        raise SystemExit("cannot find the pip version ansible-test bootstraps; update tests/sanity.py")
    return match.group(1)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="meshops-sanity-") as top:
        return sanity(Path(top) / COLLECTION_PATH)


def sanity(copy: Path) -> int:
    for name in files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, copy / name)
    # ansible-test bootstraps pip in its venvs with a script from a site outside the package
    # registries; ours gives it pip from the standard library instead.
    GET_PIP.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "tests" / "sanity_get_pip.py", GET_PIP / f"get_pip_{pinned_pip().replace('.', '_')}.py")
    ansible_test_bin = Path(sys.executable).parent / "ansible-test"
    return subprocess.run([str(ansible_test_bin), "sanity", "--python", f"{sys.version_info[0]}.{sys.version_info[1]}",
                           *sys.argv[1:]], cwd=copy, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
