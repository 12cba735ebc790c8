"""Make the repository importable as ansible_collections.meshops.multicluster."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lab.config import collection_on_path  # noqa: E402

collection_on_path()
