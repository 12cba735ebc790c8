"""Make the repository importable as ansible_collections.meshops.multicluster."""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_root = REPO / ".cache" / "collections"
_link = _root / "ansible_collections" / "meshops" / "multicluster"
if not _link.exists():
    _link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(REPO, _link)
sys.path.insert(0, str(_root))
sys.path.insert(0, str(REPO))
