"""Make the repository importable as ansible_collections.meshops.multicluster."""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lab.config import collection_on_path  # noqa: E402

collection_on_path()

# Property-based tests: the same examples on every run (derandomized, a fixed number), so a failure
# is reproducible and `make test` takes the same time everywhere. HYPOTHESIS_PROFILE=deep explores more.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("meshops", derandomize=True, max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("deep", derandomize=False, max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "meshops"))
