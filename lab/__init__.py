"""A local lab of real Kubernetes control planes, run as plain processes (no containers)."""

from .config import collection_on_path

collection_on_path()  # the lab uses the collection's DNS client to check the clusters it starts
