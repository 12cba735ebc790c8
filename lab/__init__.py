"""A local lab of real Kubernetes control planes, run as plain processes (no containers)."""
