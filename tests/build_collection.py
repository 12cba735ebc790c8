"""`make build-collection`: build the collection tarball and check what is (not) in it.

Prints the tarball's path. The integration test test_installed_collection.py installs it and
runs the playbooks from the installed collection, as users and AWX do.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from fnmatch import fnmatch
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# In the repository, never in the built collection (fnmatch patterns, a directory's ending in "/"):
# what needs the repository, the lab or the development tools to work.
MUST_NOT_SHIP = ("lab/", "bench/", ".lab*", ".venv/", ".cache/", ".ci/", ".hypothesis/", "inventory/lab/", "tests/*.py",
                 "tests/*.lua", "tests/unit/", "tests/integration/", "tests/galaxy_importer/", "tests/output/",
                 "changelogs/fragments/", "changelogs/.plugin-cache.yaml", "ansible.cfg", ".ansible-lint",
                 "pytest.ini", ".gitignore", "Makefile", "requirements-dev.txt", "*__pycache__/")
# What a user of the installed collection needs (one file stands for each kind).
MUST_SHIP = ("MANIFEST.json", "FILES.json", "README.md", "LICENSE", "CHANGELOG.md", "changelogs/changelog.yaml",
             "meta/runtime.yml", "meta/execution-environment.yml", "requirements.txt", "requirements.yml",
             "bindep.txt", "plugins/modules/service_entry.py", "roles/control_plane/tasks/main.yml",
             "roles/control_plane/README.md", "playbooks/site.yml", "inventory/example/hosts.yml",
             "docs/quickstart.md", "docs/docsite/extra-docs.yml", "docs/docsite/rst/quickstart.rst")


# Written by the build itself, or generated from the repository's files before it.
BUILT = ("MANIFEST.json", "FILES.json", "docs/docsite/rst/*")


def build(output_dir: Path) -> Path:
    """The tarball, built in `output_dir` with the guides' docsite pages generated first (the
    extra docs that docs/docsite/extra-docs.yml lists are part of the collection)."""
    from docsite import convert_guides  # tests/ is on sys.path wherever a build runs
    convert_guides()
    subprocess.run([str(Path(sys.executable).parent / "ansible-galaxy"), "collection", "build", "--force",
                    "--output-path", str(output_dir), str(REPO)], check=True, capture_output=True, text=True)
    return next(output_dir.glob("meshops-multicluster-*.tar.gz"))


def shipped_by_mistake(name: str) -> bool:
    """The path matches a pattern of MUST_NOT_SHIP, or lies under a directory that does."""
    return any(fnmatch(name, pattern.rstrip("/")) or fnmatch(name, pattern.rstrip("/") + "/*")
               for pattern in MUST_NOT_SHIP)


def repository_files() -> set[str]:
    """Tracked and new (not ignored) files, what the next commit would hold (sanity tests exactly
    these): a file git ignores (a cache, a local result) never ships."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                         check=True).stdout
    return set(out.decode().split("\0")) - {""}


def check(tarball: Path) -> list[str]:
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
        files = [member.name for member in tar.getmembers() if member.isfile()]
    problems = [f"{name} is in the tarball" for name in names if shipped_by_mistake(name)]
    known = repository_files()
    problems += [f"{name} is in the tarball but not in the repository (ignored by git: add it to build_ignore)"
                 for name in files if name not in known and not any(fnmatch(name, built) for built in BUILT)]
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
