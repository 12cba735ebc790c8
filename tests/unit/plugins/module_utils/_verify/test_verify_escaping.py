"""Property-based: what the fleet check shows is safe whatever a cluster holds. The HTML report
renders every string of the model as text (never markup or script), the summary callback lets no
control character reach the terminal, and no value under a secret-looking key survives redaction."""

import json
import unicodedata
from html.parser import HTMLParser

from hypothesis import given, strategies as st

from ansible_collections.meshops.multicluster.plugins.callback.mesh_summary import pending_lines, printable
from ansible_collections.meshops.multicluster.plugins.module_utils._common.redaction import REDACTED, is_secret_key, redact
from ansible_collections.meshops.multicluster.plugins.module_utils._verify.report import render_html, render_text
from tests.report_model import CHECKS

HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</title><script>", "' onmouseover='x",
           "<svg onload=alert(1)>", "&lt;b&gt;", "]]><!--", "\x1b[2J", "javascript:alert(1)", "</style>"]
text = st.one_of(st.text(max_size=30), st.sampled_from(HOSTILE),
                 st.tuples(st.text(max_size=8), st.sampled_from(HOSTILE)).map("".join))
# What render_html itself writes: a string from the model adds none of these and no other.
TAGS = {"html", "head", "meta", "title", "style", "body", "main", "header", "div", "h1", "h2", "b", "section",
        "table", "thead", "tbody", "tr", "th", "td", "small", "span", "a", "details", "summary", "code", "svg",
        "defs", "marker", "path", "g", "rect", "text", "circle", "p"}
ATTRIBUTES = {"lang", "charset", "name", "content", "class", "title", "href", "id", "style", "viewbox", "width",
              "height", "role", "aria-label", "refx", "refy", "markerwidth", "markerheight", "orient", "d", "fill",
              "x", "y", "rx", "stroke", "stroke-width", "cx", "cy", "r", "font-size", "font-weight", "text-anchor",
              "marker-end", "marker-start", "opacity", "open"}


class Markup(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attributes, self.texts = set(), set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _value in attrs)
        self.attributes.update("href:" + (value or "") for name, value in attrs if name == "href")

    def handle_data(self, data):
        self.texts.append(data)


result = st.fixed_dictionaries({"status": st.sampled_from(["pass", "warn", "fail", "pending", "skip"]) | text},
                               optional={"detail": text, "object": text, "fix": text})
cluster = st.fixed_dictionaries({
    "name": text, "network": text, "reachable": st.booleans(),
    "gateway": st.fixed_dictionaries({"address": text, "port": text}),
    "exports": st.lists(text, max_size=3),
    "imports": st.lists(st.fixed_dictionaries({"host": text, "from": st.lists(text, max_size=2)}), max_size=3),
    "results": st.dictionaries(st.sampled_from([c["id"] for c in CHECKS]), result)}, optional={
    "revisions": st.fixed_dictionaries({
        "revisions": st.dictionaries(text, st.fixed_dictionaries({"version": text, "ready": st.booleans(),
                                                                  "in_use_by": st.lists(text, max_size=2)}), max_size=2),
        "tags": st.dictionaries(text, st.fixed_dictionaries({"revision": text}), max_size=2),
        "default_revision": text, "gateway": st.fixed_dictionaries({"name": text, "revision": text}),
        "namespaces": st.dictionaries(text, text, max_size=2), "pods": st.dictionaries(text, st.integers(0, 9), max_size=2)})})
model = st.fixed_dictionaries({
    "generated": text, "ok": st.booleans(), "checks": st.just(CHECKS),
    "mesh": st.fixed_dictionaries({"mesh_id": text, "trust_domain": text}),
    "clusters": st.lists(cluster, min_size=1, max_size=4),
    "routes": st.lists(st.fixed_dictionaries({"from": text, "to": text, "count": st.integers(0, 99) | text,
                                              "hosts": st.lists(text, max_size=2)}), max_size=3),
    "failover": st.fixed_dictionaries({"mode": text, "services": st.lists(st.fixed_dictionaries({
        "host": text, "orders": st.dictionaries(text, st.lists(st.lists(text, max_size=2), max_size=2),
                                                max_size=2)}), max_size=2)})}, optional={
    "version_window": st.fixed_dictionaries({"min": text, "max": text, "outside": st.lists(text, max_size=2),
                                             "unparsed": st.lists(text, max_size=2)})})


@given(model)
def test_every_string_from_a_cluster_renders_as_text_never_as_markup(m):
    page = render_html(m)
    parsed = Markup()
    parsed.feed(page)
    assert parsed.tags <= TAGS and "script" not in parsed.tags
    assert {a for a in parsed.attributes if not a.startswith("href:")} <= ATTRIBUTES
    assert all(a == "href:" or a.startswith("href:#issue-") for a in parsed.attributes if a.startswith("href:"))
    for c in m["clusters"]:
        assert str(c["name"]) in "".join(parsed.texts)   # the name is shown, as text
    render_text(m)


@given(st.text())
def test_no_control_character_reaches_the_terminal(message):
    shown = printable(message)
    for ch in shown:
        assert ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp"), repr(shown)
    # A line break of the message stays one, indented under its entry.
    assert all(line.startswith("    ") for line in shown.split("\n")[1:])


@given(st.lists(st.sampled_from(HOSTILE + ["\x07", "\u202e", "\r", "\x9b31m"]), min_size=1).map("\n".join))
def test_the_pending_lines_of_a_hostile_report_print_escaped(detail):
    report = {"checks": CHECKS, "clusters": [{"name": "c\x1b]0;x\x07", "results": {
        "dns": {"status": "pending", "detail": detail}, "root": {"status": "fail", "detail": "no"}}}]}
    lines = pending_lines(report)
    assert len(lines) == 1 and lines[0].startswith("c\x1b]0;x\x07 / .global DNS: ")
    assert "\x1b" not in printable(lines[0]) and "\x07" not in printable(lines[0])


SENTINEL = "S3NT1NEL"
secret_key = st.tuples(st.sampled_from(["", "my", "db_", "TLS_", "x-", "bearer"]),
                       st.sampled_from(["password", "Password", "PASSWD", "token", "Token", "secret", "Secrets",
                                        "credentials", "Credential", "apiKeys", "apiKey", "privateKey", "private_key",
                                        "ca.key", "KEY", "passphrase", "connectionString"]),
                       st.sampled_from(["", "s", "Value", "_b64"])).map("".join).filter(is_secret_key)
plain_key = st.sampled_from(["name", "hub", "tag", "global", "meshID", "network", "keySize", "replicas", "env",
                             "pilot", "values", "monkey", "keyCertSign"])
leaf = st.one_of(st.integers(), st.booleans(), st.none(), st.text(max_size=5).filter(lambda t: SENTINEL not in t))
secret_value = st.recursive(st.just(SENTINEL), lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(plain_key, inner, max_size=3), max_leaves=5)


def tree(values):
    return st.recursive(values, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.one_of(plain_key, secret_key), inner, max_size=4), max_leaves=20)


@given(tree(st.one_of(leaf, st.builds(lambda k, v: {k: v}, secret_key, secret_value))))
def test_no_value_under_a_secret_looking_key_survives_at_any_depth(values):
    assert SENTINEL not in json.dumps(redact(values))


@given(st.lists(st.tuples(secret_key, st.just(SENTINEL)), min_size=1))
def test_env_style_pairs_with_a_secret_name_lose_their_value(pairs):
    shown = redact({"env": [{"name": name, "value": value} for name, value in pairs]})
    assert SENTINEL not in json.dumps(shown) and [e["name"] for e in shown["env"]] == [n for n, _v in pairs]


@given(st.recursive(leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(plain_key, inner, max_size=3),
                    max_leaves=15))
def test_values_without_secret_looking_keys_are_unchanged(values):
    assert redact(values) == values


def test_redaction_matches_the_documented_keys():
    assert redact({"apiKeys": ["k1", "k2"], "credentials": {"user": "u"}, "keySize": 2048,
                   "nested": [{"privateKey": "x", "ok": 1}]}) == {
        "apiKeys": REDACTED, "credentials": REDACTED, "keySize": 2048, "nested": [{"privateKey": REDACTED, "ok": 1}]}
