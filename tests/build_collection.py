"""`make build-collection`: build the collection tarball and check what is (not) in it.

Prints the tarball's path. The integration test test_installed_collection.py installs it and
runs the playbooks from the installed collection, as users and AWX do.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Present in the repository, never in the built collection.
MUST_NOT_SHIP = ("lab/", "bench/", ".lab", ".venv/", ".cache/", ".ci/", "tests/output/", "inventory/lab/hosts.yml")
MUST_SHIP = ("MANIFEST.json", "meta/runtime.yml", "plugins/modules/service_entry.py",
             "roles/control_plane/tasks/main.yml", "playbooks/site.yml", "README.md", "LICENSE")


def build(output_dir: Path) -> Path:
    subprocess.run([str(Path(sys.executable).parent / "ansible-galaxy"), "collection", "build", "--force",
                    "--output-path", str(output_dir), str(REPO)], check=True, capture_output=True, text=True)
    return next(output_dir.glob("meshops-multicluster-*.tar.gz"))


def check(tarball: Path) -> list[str]:
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    problems = [f"{name} is in the tarball" for name in names for bad in MUST_NOT_SHIP
                if name == bad.rstrip("/") or name.startswith(bad) or "/__pycache__" in name]
    problems += [f"{name} is missing from the tarball" for name in MUST_SHIP if name not in names]
    return problems


def main() -> int:
    output = Path(tempfile.mkdtemp(prefix="meshops-build-"))
    tarball = build(output)
    problems = check(tarball)
    for problem in problems:
        print(f"build-collection: {problem}", file=sys.stderr)
    size = tarball.stat().st_size // 1024
    print(f"{tarball} ({size} KiB){': OK' if not problems else ''}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
