"""Label selectors as the API server matches them (istiod's discoverySelectors use them)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.meshops.multicluster.plugins.module_utils._k8s.selectors import selector_matches

LABELS = {"team": "a", "env": "prod"}


@pytest.mark.parametrize("selector, matched", [
    ({}, True),
    ({"matchLabels": {"team": "a"}}, True),
    ({"matchLabels": {"team": "b"}}, False),
    ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "stage"]}]}, True),
    ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, False),
    ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["x"]}]}, True),
    ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, True),
    ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, False),
    ({"matchLabels": {"team": "a"}, "matchExpressions": [{"key": "env", "operator": "In", "values": ["dev"]}]}, False),
])
def test_selectors_match_as_the_api_server_does(selector, matched):
    assert selector_matches(selector, LABELS) is matched


def test_an_unknown_operator_is_an_error_naming_it():
    with pytest.raises(ValueError, match="'Gt'"):
        selector_matches({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, LABELS)


@given(st.dictionaries(st.sampled_from("abc"), st.sampled_from("xy"), max_size=3),
       st.dictionaries(st.sampled_from("abc"), st.sampled_from("xy"), max_size=3))
def test_match_labels_is_a_subset_test(wanted, labels):
    assert selector_matches({"matchLabels": wanted}, labels) == (wanted.items() <= labels.items())
