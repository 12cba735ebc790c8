"""The filter that names a chart version's default revision."""

from ansible_collections.meshops.multicluster.plugins.filter.istio_revision import FilterModule


def test_istio_revision_filter_derives_a_dns_label_from_the_version():
    assert FilterModule().filters()["istio_revision"]("1.31.0") == "1-31-0"
