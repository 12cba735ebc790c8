"""`make docs`: the collection's antsibull-docs site, built offline with warnings as errors.

    python tests/docsite.py

1. Converts each guide docs/<name>.md to docs/docsite/rst/<name>.rst (pandoc with
   tests/docsite_md2rst.lua; generated, git-ignored: the Markdown is the one copy) with the label
   ansible_collections.meshops.multicluster.docsite.<name>, and checks docs/docsite/extra-docs.yml
   lists every guide.
2. `antsibull-docs lint-collection-docs --plugin-docs .`: plugin and role docs, extra docs, links.
3. `antsibull-docs sphinx-init` + `antsibull-docs collection` + `sphinx-build -W` in .cache/docsite,
   with no intersphinx inventory (nothing is fetched). Prints where the HTML is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pypandoc
import yaml

REPO = Path(__file__).resolve().parents[1]
GUIDES = REPO / "docs"
DOCSITE = GUIDES / "docsite"
EXTRA_RST = DOCSITE / "rst"
FILTER = Path(__file__).with_name("docsite_md2rst.lua")
# The pandoc of pypandoc-binary (pinned in requirements-dev.txt), not whichever pandoc is on the PATH.
PANDOC = Path(pypandoc.__file__).parent / "files" / "pandoc"
SITE = REPO / ".cache" / "docsite"
COLLECTION = "meshops.multicluster"
BIN = Path(sys.executable).parent
# sphinx-init's conf.py maps python, jinja2 and ansible_devel to inventories Sphinx would download:
# none is fetched; tests/docsite_offline.py links the few references into docs.ansible.com instead.
OFFLINE_CONF = f"""
# make docs (tests/docsite.py) builds offline.
import sys
extensions.remove("sphinx.ext.intersphinx")
intersphinx_mapping = {{}}
sys.path.insert(0, {str(Path(__file__).parent)!r})
extensions.append("docsite_offline")
"""


def guide_to_rst(guide: Path) -> str:
    """The extra doc of one Markdown guide (labels and links: tests/docsite_md2rst.lua)."""
    converted = subprocess.run([str(PANDOC), "--from=gfm", "--to=rst", "--wrap=preserve", f"--lua-filter={FILTER}",
                                str(guide)], capture_output=True, text=True, check=False)
    if converted.returncode:
        raise RuntimeError(f"pandoc could not convert {guide}: {converted.stderr.strip()}")
    return f".. Generated from docs/{guide.name} by tests/docsite.py: edit the Markdown, not this file.\n\n{converted.stdout}"


def convert_guides() -> list[str]:
    """Write docs/docsite/rst/<name>.rst for each docs/<name>.md; returns the names."""
    shutil.rmtree(EXTRA_RST, ignore_errors=True)
    EXTRA_RST.mkdir(parents=True)
    names = []
    for guide in sorted(GUIDES.glob("*.md")):
        (EXTRA_RST / f"{guide.stem}.rst").write_text(guide_to_rst(guide))
        names.append(guide.stem)
    return names


def unlisted_guides(names: list[str]) -> list[str]:
    """Guides that docs/docsite/extra-docs.yml does not put on the site."""
    index = yaml.safe_load((DOCSITE / "extra-docs.yml").read_text())
    listed = {entry["ref"] if isinstance(entry, dict) else entry
              for section in index["sections"] for entry in section["toctree"]}
    return [f"docs/{name}.md is not on the docsite: add `- ref: {name}` to a section of docs/docsite/extra-docs.yml"
            for name in names if name not in listed]


def run(*args: str, cwd: Path = REPO, quiet: bool = False) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".cache" / "collections")}
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL if quiet else None)


def build_site() -> Path:
    """The Sphinx site of the collection, as `antsibull-docs sphinx-init`'s build.sh makes it."""
    shutil.rmtree(SITE, ignore_errors=True)
    SITE.mkdir(parents=True)
    run(str(BIN / "antsibull-docs"), "sphinx-init", "--use-current", "--squash-hierarchy", "--fail-on-error",
        "--project", COLLECTION, "--title", f"{COLLECTION} documentation", "--html-short-title", COLLECTION,
        "--copyright", "meshops developers", "--dest-dir", str(SITE), COLLECTION,
        quiet=True)  # its hints ("pip install ...; ./build.sh") are what this function does
    with (SITE / "conf.py").open("a") as conf:
        conf.write(OFFLINE_CONF)
    rst = SITE / "rst"
    rst.chmod(0o755)  # antsibull-docs wants it writable by itself only
    run(str(BIN / "antsibull-docs"), "--config-file", "antsibull-docs.cfg", "collection", "--use-current",
        "--squash-hierarchy", "--fail-on-error", "--cleanup", "everything", "--dest-dir", "rst", COLLECTION,
        cwd=SITE)
    run(str(BIN / "sphinx-build"), "-M", "html", "rst", "build", "-c", ".", "-W", "--keep-going", "-q", cwd=SITE)
    return SITE / "build" / "html" / "index.html"


def main() -> int:
    try:
        problems = unlisted_guides(convert_guides())
        if not problems:
            run(str(BIN / "antsibull-docs"), "lint-collection-docs", "--plugin-docs", ".")
            print(f"docsite: {build_site()}")
    except RuntimeError as exc:
        problems = [str(exc)]
    except subprocess.CalledProcessError as exc:  # the tool has said why
        problems = [f"make docs: {Path(exc.cmd[0]).name} failed (exit {exc.returncode}), see its output above"]
    if problems:
        print("\n".join(problems), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
