"""Property-based tests of the Corefile editor (issue #20, finding 3): generated Corefiles - server
blocks with zones, ports, directives, nested blocks, comments, imports - and generated values.

- remove(upsert(x)) == x, byte for byte, and upsert is idempotent;
- no generated value (zone, target IPs, or text posing as one) ever adds or changes a server block
  outside ours: the result is our block in front of the untouched text, or a ValueError;
- zones_defined_twice finds exactly the zones and ports a model of CoreDNS's rule says are defined
  twice, over a Corefile and the files it imports.

The seed and the number of examples come from tests/conftest.py (the `meshops` profile).
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ansible_collections.meshops.multicluster.plugins.module_utils._dns import corefile
from ansible_collections.meshops.multicluster.plugins.module_utils._dns.corefile import CorefileError

ZONES = [".", "global", "example.org", "cluster.local", "svc.global", "in-addr.arpa"]
PORTS = [None, 53, 5353, 1053]

# Small pools keep generation fast; their combinations are where the edge cases are.
indent = st.sampled_from(["    ", "  ", "\t", "        "])
word = st.sampled_from(["10.0.0.1", "/etc/resolv.conf", "cluster.local", "30", "insecure", "a=b", "5s", ":9153",
                        "in-addr.arpa", "fd00::53", "{$UPSTREAM}", "tls://1.1.1.1", "global.", "..", "x#y"])
# Quoted: spaces, '#' and braces inside quotes are text (a quoted lone brace is a brace to CoreDNS: not here).
quoted = st.sampled_from(['"a b"', '"#not a comment"', '"{x}"', '""', '"ends with }"', '"\\"quoted\\""'])
argument = st.one_of(word, word, quoted)
comment_text = st.sampled_from(["", "a comment", "{ not a block", "}", '"quote', "# twice", "import x", "global:53 {"])
directive_name = st.sampled_from(["errors", "health", "ready", "kubernetes", "forward", "cache", "loop", "reload",
                                  "loadbalance", "log", "hosts", "rewrite", "prometheus", "template", "whoami", "bind"])
pattern = st.sampled_from(["/etc/coredns/custom/*.server", "custom/*.override", "conf.d/x.conf", "snippets/*"])


@st.composite
def zone_key(draw, zones=st.sampled_from(ZONES), ports=st.sampled_from(PORTS)):
    """(key as written, (zone, port) as CoreDNS reads it): any case, a final dot or not, dns:// or not."""
    zone, port = draw(zones), draw(ports)
    spelled = zone if zone == "." else draw(st.sampled_from([zone, zone.upper(), zone + "."]))
    key = draw(st.sampled_from(["", "dns://"])) + spelled + ("" if port is None else ":%d" % port)
    return key, (zone, port or 53)


@st.composite
def directive(draw):
    line = draw(indent) + " ".join([draw(directive_name)] + draw(st.lists(argument, max_size=3)))
    if draw(st.booleans()):  # a nested block, with plugin options
        inner = draw(st.lists(st.tuples(directive_name, st.lists(argument, max_size=2)), max_size=3))
        line += " {\n" + "".join(draw(indent) * 2 + " ".join([name] + args) + "\n" for name, args in inner)
        line += draw(indent) + "}"
    if draw(st.booleans()):
        line += " # " + draw(comment_text)
    return line


@st.composite
def server_block(draw):
    """(text, [(zone, port)] of its keys)."""
    keys = draw(st.lists(zone_key(), min_size=1, max_size=3))
    separator = draw(st.sampled_from([" ", ", "]))
    comment = st.tuples(indent, comment_text).map(lambda parts: "%s# %s" % parts)
    lines = [separator.join(key for key, _zone_port in keys) + " {"]
    lines += draw(st.lists(st.one_of(directive(), directive(), directive(), comment,
                                     pattern.map(lambda p: "    import " + p)), max_size=4))
    lines.append("}")
    return "\n".join(lines) + "\n", [zone_port for _key, zone_port in keys]


@st.composite
def corefile_text(draw, blocks=st.lists(server_block(), max_size=3)):
    """(a Corefile CoreDNS reads, [(zone, port)] of its server blocks' keys)."""
    parts, zones = [], []
    for text, keys in draw(blocks):
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(["\n", "# " + draw(comment_text) + "\n", "import " + draw(pattern) + "\n"])))
        parts.append(text)
        zones += keys
    text = "".join(parts)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    if text and draw(st.booleans()):
        text = text.rstrip("\r\n")
    return text, zones


ip_text = st.ip_addresses().map(str)
zone_name = st.one_of(st.sampled_from(["global", "example.org", "svc.global", "mesh-1.internal", "cluster.local", "x"]),
                      st.lists(st.sampled_from(["a", "b0", "c-d", "global"]), min_size=1, max_size=3).map(".".join))
# Text posing as a value: scope ids with whole server blocks after them, spaces, braces, comments.
hostile = st.one_of(
    st.tuples(ip_text, st.text(max_size=30)).map("%".join),
    st.tuples(ip_text, st.sampled_from(["\n}\nevil:53 {\n    forward . 6.6.6.6\n", " {", " #", '"', "\t1.2.3.4"])).map("".join),
    st.text(max_size=20))


def serves(text, zone, port=53):
    return any((zone, port) in block.zones() for block in corefile.parse(text))


@given(corefile_text(), zone_name, st.lists(ip_text, min_size=1, max_size=3), st.sampled_from(corefile.PLUGINS))
def test_upsert_then_remove_gives_every_byte_back(generated, zone, targets, plugin):
    text, _zones = generated
    if serves(text, zone):
        with pytest.raises(CorefileError, match="already serves zone"):
            corefile.upsert(text, zone, targets, plugin)
        return
    added = corefile.upsert(text, zone, targets, plugin)
    assert added == corefile.render_block(zone, targets, plugin) + text  # only ours added, in front
    assert corefile.upsert(added, zone, targets, plugin) == added  # idempotent
    assert corefile.remove(added, zone) == text
    moved = corefile.upsert(added, zone, list(reversed(targets)), plugin)
    assert corefile.remove(moved, zone) == text
    assert corefile.remove(text, zone) == text
    assert [block.keys for block in corefile.parse(added)][1:] == [block.keys for block in corefile.parse(text)]


@given(corefile_text(), st.one_of(zone_name, hostile), st.lists(st.one_of(ip_text, hostile), min_size=1, max_size=3))
def test_no_value_adds_or_changes_a_server_block_outside_ours(generated, zone, targets):
    text, _zones = generated
    try:
        added = corefile.upsert(text, zone, targets)
    except ValueError:  # CorefileError included: refused, nothing to write
        return
    ours = corefile.parse(corefile.render_block(zone, targets))
    assert len(ours) == 1
    assert added.endswith(text)
    blocks = corefile.parse(added)
    assert [block.keys for block in blocks] == [ours[0].keys] + [block.keys for block in corefile.parse(text)]
    assert [str(ipaddress.ip_address(target.strip())) for target in targets] == \
        added.splitlines()[4].split()[2:]  # the forward line holds exactly the targets


@given(st.lists(corefile_text(), min_size=1, max_size=3))
def test_every_zone_defined_twice_is_found(sources):
    expected = {}
    for _text, zones in sources:
        for zone_port in zones:
            expected[zone_port] = expected.get(zone_port, 0) + 1
    found = corefile.zones_defined_twice(("file%d" % i, text) for i, (text, _zones) in enumerate(sources))
    assert {zone_port: len(where) for zone_port, where in found.items()} == \
        {zone_port: count for zone_port, count in expected.items() if count > 1}


@given(corefile_text(), zone_name, st.lists(ip_text, min_size=1, max_size=2))
def test_our_block_counts_in_the_complete_result(generated, zone, targets):
    """Our block in one file and the zone in another: found, naming both."""
    text, _zones = generated
    assume(not serves(text, zone))
    ours = corefile.upsert("", zone, targets)
    theirs = "%s {\n    whoami\n}\n" % zone
    found = corefile.zones_defined_twice([("Corefile", corefile.upsert(text, zone, targets)), ("custom", theirs)])
    assert found[(zone, 53)] == ["Corefile line 2", "custom line 1"]
    assert (zone, 53) in corefile.zones_defined_twice([("Corefile", text + "\n" + theirs), ("custom", ours)])
