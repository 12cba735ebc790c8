"""docs/permissions.md ends with the table of plugins/module_utils/_access/permissions.py.

    python tests/docs_permissions.py   # rewrite the table

tests/unit/test_permissions.py checks it."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "permissions.md"
MARK = "<!-- generated from plugins/module_utils/_access/permissions.py: python tests/docs_permissions.py -->"


def render() -> str:
    sys.path.insert(0, str(REPO))
    from lab.config import collection_on_path
    collection_on_path()
    from ansible_collections.meshops.multicluster.plugins.module_utils._access.permissions import markdown_table
    head = PAGE.read_text().split(MARK, 1)[0]
    return head + MARK + "\n\n" + markdown_table() + "\n"


if __name__ == "__main__":
    PAGE.write_text(render())
