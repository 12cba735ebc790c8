"""One DNS-name check for the whole collection."""

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils.names import label_error, name_errors


@pytest.mark.parametrize("value", ["a", "cluster-1", "x" * 63, "1abc"])
def test_labels(value):
    assert label_error(value) is None


@pytest.mark.parametrize("value, why", [
    ("", "is empty"), (None, "is empty"), ("x" * 64, "is 64 characters long (at most 63)"),
    ("Net_1", "must be lowercase"), ("-a", "must be lowercase"), ("a-", "must be lowercase"), ("a.b", "must be lowercase"),
])
def test_not_labels(value, why):
    assert label_error(value).startswith(why)


def test_dotted_names():
    assert name_errors("httpbin.bar.global") == []
    assert name_errors("a..b") == ["label '' is empty"]
    assert name_errors(("x" * 64) + ".global") == ["label '%s' is 64 characters long (at most 63)" % ("x" * 64)]
    assert name_errors(".".join(["x" * 63] * 4)) == ["is 255 characters long (at most 253)"]
