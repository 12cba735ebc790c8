"""`make sanity`: ansible-test sanity on a copy of the tree laid out as
ansible_collections/meshops/multicluster/ (what ansible-test requires)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Outside the repository: inside it, git (which ansible-test asks) would ignore the copy.
COPY = Path(tempfile.gettempdir()) / "meshops-sanity" / "ansible_collections" / "meshops" / "multicluster"
GET_PIP = Path.home() / ".ansible" / "test" / "cache"


def files() -> list[str]:
    """Tracked and new (not ignored) files, as the next commit would have them."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                         check=True).stdout
    return [f for f in out.decode().split("\0") if f and (REPO / f).is_file()]


def pinned_pip() -> str:
    """The pip version ansible-test bootstraps (it names the bootstrap script after it)."""
    import ansible_test
    source = (Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
    match = re.search(r"\bpip='([0-9.]+)'", source)
    if not match:
        raise SystemExit("cannot find the pip version ansible-test bootstraps; update tests/sanity.py")
    return match.group(1)


def main() -> int:
    shutil.rmtree(COPY, ignore_errors=True)
    for name in files():
        (COPY / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, COPY / name)
    # ansible-test bootstraps pip in its venvs with a script from a site outside the package
    # registries; ours gives it pip from the standard library instead.
    GET_PIP.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "tests" / "sanity_get_pip.py", GET_PIP / f"get_pip_{pinned_pip().replace('.', '_')}.py")
    ansible_test_bin = Path(sys.executable).parent / "ansible-test"
    return subprocess.run([str(ansible_test_bin), "sanity", "--python", f"{sys.version_info[0]}.{sys.version_info[1]}",
                           *sys.argv[1:]], cwd=COPY).returncode


if __name__ == "__main__":
    sys.exit(main())
