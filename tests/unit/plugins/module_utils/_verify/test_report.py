import re

import pytest

from ansible_collections.meshops.multicluster.plugins.module_utils._verify.report import render_html, render_text
from tests.report_model import CHECKS, sample

EVIL = '<script>alert("x")</script>'


def evil_model():
    model = sample()
    c = model["clusters"][1]
    c.update(name=EVIL, network="<b>net</b>", exports=["<img src=x onerror=alert(1)>.shop"],
             imports=[{"host": "a&b.<i>.global", "from": ["cluster1"]}])
    model["routes"].append({"from": "cluster1", "to": EVIL, "count": 1, "hosts": ["a&b.<i>.global"]})
    c["results"]["dns"] = {"status": "fail", "detail": "<iframe>", "object": "ConfigMap <x>", "fix": 'run "a" & <b>'}
    c["revisions"] = {"revisions": {"<i>rev": {"version": "<u>1", "in_use_by": []}}, "tags": {"<q>": {"revision": "<i>rev"}},
                      "gateway": {"name": "<em>gw", "revision": "<q>"}, "namespaces": {"<s>ns": "<q>"},
                      "pods": {"<i>rev": 1}}
    model["version_window"] = {"min": "<kbd>", "max": "1.30", "outside": ["<var>c"]}
    model["checks"] = CHECKS + [{"id": "evil", "title": "<svg onload=alert(1)>"}]
    model["mesh"] = {"mesh_id": "</title><script>", "trust_domain": "td'\"<"}
    return model


def test_strings_from_the_model_stay_text():
    page = render_html(evil_model())
    assert "<script" not in page.lower()
    assert "<img" not in page and "<iframe" not in page and "<svg onload" not in page and "<b>net" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "ConfigMap &lt;x&gt;" in page and "run &quot;a&quot; &amp; &lt;b&gt;" in page
    assert "a&amp;b.&lt;i&gt;" in page
    assert "<i>" not in page and "<q>" not in page and "<em>" not in page and "<s>" not in page and "<var>" not in page
    assert "<td>&lt;i&gt;rev</td><td>&lt;u&gt;1</td><td>&lt;q&gt;</td><td>&lt;em&gt;gw</td>" in page
    assert "&lt;s&gt;ns (tag &lt;q&gt;)" in page and "outside the window: &lt;var&gt;c" in page
    assert 'title="&lt;iframe&gt;; ConfigMap &lt;x&gt;"' in page and "&amp;amp;" not in page  # escaped once


def test_every_cluster_and_check_appears():
    model = sample()
    page, text = render_html(model), render_text(model)
    for c in model["clusters"]:
        assert page.count(">%s<" % c["name"]) >= 2  # table row and diagram box
        assert c["name"] in text and c["gateway"]["address"] + ":15443" in page
        for service in c["exports"][:2]:
            assert service in page
    for check in model["checks"]:
        assert "<th>%s</th>" % check["title"] in page and check["title"] in text


def test_cells_carry_a_symbol_and_a_word_and_the_detail_on_hover():
    page = render_html(sample())
    assert re.search(r'<a href="#issue-cluster3-dns" class="s fail" title="[^"]*NXDOMAIN[^"]*">\u2717 fail</a>', page)
    assert '<span class="s pass" title="valid for 340 days">\u2713 pass</span>' in page


def test_failures_list_cluster_object_and_fix():
    model = sample()
    page, text = render_html(model), render_text(model)
    assert "<h1>1 failed, 1 warning</h1>" in page
    problems = page[page.index("<details open>"):]
    for cluster, obj, fix in (("cluster3", "ConfigMap kube-system/coredns", "run playbooks/dns.yml --limit cluster3"),
                              ("cluster2", "Secret istio-system/cacerts", "run playbooks/rotate.yml")):
        row = problems[problems.index('id="issue-%s' % cluster):]
        row = row[:row.index("</tr>")]
        assert cluster in row and obj in row and fix in row
        assert "    object: %s\n    fix: %s\n" % (obj, fix) in text
    assert problems.index("issue-cluster3") < problems.index("issue-cluster2")  # failures first
    assert "FAIL cluster3 / .global DNS: reviews.shop.global: NXDOMAIN" in text


def test_a_clean_fleet_says_so():
    model = sample(3, 6)
    assert "<h1>All checks pass</h1>" in render_html(model) and "Nothing to fix." in render_html(model)
    assert render_text(model).splitlines()[0].endswith(": All checks pass")


def test_unreachable_cluster_is_grey_and_counts_as_failed():
    model = sample(3, 6)
    model["clusters"][2].update(reachable=False, gateway=None, results={})
    page, text = render_html(model), render_text(model)
    assert '<header class="fail">' in page and "1 cluster unreachable" in page
    assert '<g class="unreachable">' in page and "gateway unknown" in page
    assert "cluster3 (unreachable)" in text


def test_missing_result_is_skip_and_ipv6_gateway_is_bracketed():
    model = sample(1, 2)
    del model["clusters"][0]["results"]["dns"]
    model["clusters"][0]["gateway"] = {"address": "fd00::1", "port": 15443}
    page = render_html(model)
    assert '<span class="s skip" title="not run">\u2013 skip</span>' in page and "[fd00::1]:15443" in page


def test_nothing_external_is_referenced():
    for model in (sample(), evil_model(), sample(10, 200)):
        page = render_html(model)
        assert not re.search(r"https?://", page)
        assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.I)
        assert "@import" not in page and "@font-face" not in page
        assert all(ref.startswith("#") for ref in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page))
        assert all(ref.startswith("#") for ref in re.findall(r"url\(\s*([^)]*)\)", page))


@pytest.mark.parametrize("clusters, services", [(1, 0), (1, 200), (10, 20), (10, 200)])
def test_fleets_of_every_size_render(clusters, services):
    model = sample(clusters, services)
    page = render_html(model)
    assert page.count('<g class="pass">') == clusters and page.count("<tr><td class=\"c\">cluster") >= clusters
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert len(page) < 600_000
    if services >= 200:
        per = services // clusters
        assert "%d exports \u00b7 %d imported" % (per, per * (clusters - 1)) in page
        assert re.search(r"svc000\.ns1, svc001\.ns1 \+%d more" % (per - 2), page)


def test_dense_fleets_draw_one_line_per_pair():
    page = render_html(sample(10, 20))
    assert page.count('marker-start="url(#arrow)"') == 45 and "90 routes" in page


def test_text_table_is_aligned():
    model = sample()
    model["clusters"][0]["name"] = "a-much-longer-cluster-name"
    lines = render_text(model).splitlines()
    header, rule, rows = lines[1], lines[2], lines[3:6]
    starts = [m.start() for m in re.finditer(r"-+", rule)]
    assert len(starts) == len(CHECKS) + 1
    for line in [header] + rows:
        for start in starts[1:]:
            assert line[start - 2:start] == "  " and line[start] != " ", line
    assert [r.split()[6] for r in rows] == ["pass", "pass", "FAIL"]  # .global DNS
    assert [r.split()[2] for r in rows] == ["pass", "WARN", "pass"]


def test_routes_are_listed_in_cluster_order():
    page = render_html(sample(10, 20))
    routes = re.findall(r'<td class="c">(cluster\d+) \u2192 (cluster\d+)</td>', page)
    assert len(routes) == 90 and routes[:2] == [("cluster1", "cluster2"), ("cluster1", "cluster3")]
    assert routes[8] == ("cluster1", "cluster10") and routes[-1] == ("cluster10", "cluster9")


def test_each_cluster_shows_its_revisions_tags_gateway_pods_and_pinned_namespaces():
    model = sample()
    page, text = render_html(model), render_text(model)
    section = page[page.index("<h2>Control plane revisions</h2>"):]
    section = section[:section.index("</section>")]
    assert '<span class="s pass">\u2713 Istio 1.29 to 1.30: within one minor</span>' in section
    # cluster2 mid-upgrade: tags, gateway and new pods on 1-30-0, the data plane partly still on 1-29-0
    assert ('<tr><td class="c">cluster2</td><td>1-30-0</td><td>1.30.0</td><td>default, stable</td>'
            '<td>istio-eastwestgateway</td><td>1</td><td>bar (tag default), shop (tag stable)</td><td>ready</td></tr>'
            '<tr><td class="c"></td><td>1-29-0</td><td>1.29.0</td><td>\u2013</td><td>\u2013</td><td>3</td>'
            '<td>\u2013</td><td>ready</td></tr>') in section
    assert '<td class="none">unused: playbooks/upgrade.yml removes it</td>' in section
    assert "revision cluster2 / 1-29-0: Istio 1.29.0; ready; 3 pods" in text
    assert "version window: Istio 1.29 to 1.30: within one minor" in text


def test_a_revision_named_but_not_installed_and_a_window_outside_are_shown():
    model = sample()
    model["version_window"] = {"ok": False, "min": "1.28", "max": "1.30", "outside": ["cluster3"], "unparsed": []}
    revs = model["clusters"][2]["revisions"]
    revs["pods"]["1-28-0"] = 2
    revs["namespaces"]["legacy"] = "1-28-0"
    page, text = render_html(model), render_text(model)
    assert "\u2717 Istio 1.28 to 1.30: more than one minor apart; outside the window: cluster3" in page
    assert "<td>1-28-0</td><td>\u2013</td><td>\u2013</td><td>\u2013</td><td>2</td><td>legacy</td>" \
           '<td class="none">not installed</td>' in page
    assert "revision cluster3 / 1-28-0: not installed; 2 pods; namespaces legacy" in text
    # A model without revisions (an older report) renders without the section.
    for c in model["clusters"]:
        c.pop("revisions")
    model.pop("version_window")
    assert "Control plane revisions" not in render_html(model) and "version window" not in render_text(model)
