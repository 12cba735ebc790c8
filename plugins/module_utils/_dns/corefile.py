# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Corefiles: a parser that reads them as CoreDNS does, and the one edit the collection makes.

The edit is a server block that forwards one zone to the zone server, between marker lines:

    # BEGIN meshops.multicluster global
    global:53 {
        errors
        cache 30
        forward . 10.96.0.20
    }
    # END meshops.multicluster global

It goes in front of everything else, is replaced in place on later runs and removed exactly, so
every other byte of the Corefile stays as it was. The parser follows CoreDNS's Caddyfile rules
(coredns/caddy): whitespace-separated tokens, double quotes, `#` comments, `{`/`}` as whole tokens,
server blocks (keys, then a block), snippets `(name) { ... }`, `import` lines and `{$ENV}`
placeholders. It does not read imported files itself: it lists the patterns imported where server
blocks stand (`imports`), and the caller hands it the texts those patterns match, so that a zone
defined twice - in the Corefile, in an imported file, or across them - is found before CoreDNS
refuses to start (`zones_defined_twice`). It catches what breaks a Corefile as a whole (braces,
stray tokens, bad keys); plugin arguments are not checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.meshops.multicluster.plugins.module_utils._dns.zone_records import check_dns_name, check_ip
from ansible_collections.meshops.multicluster.plugins.module_utils._common.errors import InputError, MeshError

MARKER_BEGIN = "# BEGIN meshops.multicluster %s"
MARKER_END = "# END meshops.multicluster %s"
PLUGINS = ("forward", "proxy")
# Default port of each transport (CoreDNS's -dns.port only changes dns://).
_PORTS = {"dns": 53, "tls": 853, "quic": 853, "grpc": 443, "https": 443, "https3": 443}
_PLACEHOLDER = r"\{\$[^}]*\}|\{%[^%]*%\}"
_KEY = re.compile(r"(?:(?P<scheme>[a-z0-9]+)://)?(?P<zone>[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*/\d+|[^:]*|\[[^\]]*\])(?::(?P<port>[^:]+))?")
_ZONE = re.compile(r"(?:\.|[A-Za-z0-9_*][A-Za-z0-9_*.-]*|[0-9A-Fa-f:.\[\]]+/\d+|%s)" % _PLACEHOLDER)
_DIRECTIVE = re.compile(r"(?:[a-z0-9_]+|%s)" % _PLACEHOLDER)
_IMAGE_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


class CorefileError(MeshError, ValueError):
    """A Corefile that CoreDNS would refuse, or an edit that cannot be made; says where."""

    def __init__(self, message, line=None):
        super().__init__("line %d: %s" % (line, message) if line else message)
        self.line = line


@dataclass
class Token:
    text: str
    line: int

    @property
    def last_line(self):
        return self.line + self.text.count("\n")


@dataclass
class ServerBlock:
    keys: list
    line: int

    def zones(self):
        """(zone, port) each key serves; zone lower case without the final dot, port None if unknown."""
        for key in self.keys:
            match = _KEY.fullmatch(key)
            zone = (match.group("zone") or ".").lower()
            zone = zone if zone == "." else zone.rstrip(".")
            port = match.group("port") or _PORTS.get(match.group("scheme") or "dns")
            yield zone, int(port) if str(port).isdigit() else None


def tokenize(text):
    """Tokens of a Corefile as CoreDNS's lexer cuts them."""
    tokens, line, i, n = [], 1, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch == "#":
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        elif ch == '"':
            start, value, i = line, [], i + 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                    value.append(text[i] if text[i] == '"' else "\\" + text[i])
                else:
                    value.append(text[i])
                line += text[i] == "\n"
                i += 1
            if i >= n:
                raise CorefileError("quoted text is never closed", start)
            tokens.append(Token("".join(value), start))
        elif not ch.isspace():
            start = i
            while i < n and not text[i].isspace():
                i += 1
            word = text[start:i]
            # A '#' inside a word drops the rest of that word only (CoreDNS's lexer does the same).
            tokens.append(Token(word.split("#", 1)[0], line))
            continue
        i += 1
    return tokens


class _Parser:
    """coredns/caddy's parser, minus reading imported files (an import counts as empty)."""

    def __init__(self, text):
        self.tokens = tokenize(text)
        self.cursor = -1
        self.snippets = set()
        self.imports = []  # patterns imported where server blocks stand

    @property
    def token(self):
        return self.tokens[self.cursor] if 0 <= self.cursor < len(self.tokens) else None

    @property
    def val(self):
        return self.token.text if self.token else ""

    def next(self):
        if self.cursor < len(self.tokens) - 1:
            self.cursor += 1
            return True
        return False

    def next_arg(self):
        if self.cursor < len(self.tokens) - 1 and self.tokens[self.cursor + 1].line == self.token.last_line:
            self.cursor += 1
            return True
        return False

    def new_line(self):
        return self.cursor < 1 or self.tokens[self.cursor - 1].last_line < self.token.line

    def error(self, message):
        token = self.token or (self.tokens[-1] if self.tokens else None)
        return CorefileError(message, token.line if token else None)

    def parse(self):
        blocks = []
        while self.next():
            block = self.server_block()
            if block:
                blocks.append(block)
        return blocks

    def server_block(self):
        line = self.token.line
        keys = self.addresses()
        if keys is None:
            return None
        if len(keys) == 1 and keys[0].startswith("(") and keys[0].endswith(")"):
            self.snippet(keys[0][1:-1])
            return None
        for key in keys:
            match = _KEY.fullmatch(key)
            if not match or not _ZONE.fullmatch(match.group("zone") or "."):
                raise CorefileError("%r is not a server block key ([scheme://]zone[:port])" % key, line)
        if self.val == "{":
            if not self.directives():
                raise self.error("the server block %s is never closed: '}' expected" % " ".join(keys))
        else:  # a single server block may go without braces
            self.cursor -= 1
            self.directives()
        return ServerBlock(keys, line)

    def addresses(self):
        """Keys up to '{' or the end of their line; None at the end of the file."""
        keys, expecting = [], False
        while True:
            if self.val == "import" and self.new_line():
                self.skip_import(self.imports)
                continue
            if self.val == "}":
                raise self.error("unexpected '}' outside any block")
            if self.val == "{":
                if expecting:
                    raise self.error("another server block key expected after ','")
                return keys
            if self.val:
                keys.append(self.val[:-1] if self.val.endswith(",") else self.val)
                expecting = self.val.endswith(",")
            if not self.next():
                if expecting:
                    raise self.error("unexpected end of file after ','")
                if keys:
                    raise self.error("server block %s has no directives" % " ".join(keys))
                return None
            if not expecting and self.new_line():
                return keys

    def skip_import(self, patterns=None):
        """Drop `import <pattern>` (the pattern's content is out of sight), as if it matched nothing;
        the pattern goes to `patterns` when given."""
        if not self.next_arg():
            raise self.error("import needs a file pattern or snippet name")
        if self.next_arg():
            raise self.error("import takes only one argument (glob pattern or file)")
        if patterns is not None:
            patterns.append(self.tokens[self.cursor].text)
        del self.tokens[self.cursor - 1:self.cursor + 1]
        self.cursor -= 1

    def snippet(self, name):
        if name in self.snippets:
            raise self.error("redeclaration of snippet %s" % name)
        self.snippets.add(name)
        if self.val != "{":
            raise self.error("snippet %s needs a block: '{' expected" % name)
        depth = 1
        while depth and self.next():
            depth += {"{": 1, "}": -1}.get(self.val, 0)
        if depth:
            raise self.error("snippet %s is never closed: '}' expected" % name)

    def directives(self):
        """Directives up to the '}' that closes the server block: True if it was found."""
        while self.next():
            if self.val == "}":
                return True
            if self.val == "import":
                self.skip_import()
                self.cursor -= 1
                continue
            self.directive()
        return False

    def directive(self):
        if not _DIRECTIVE.fullmatch(self.val):
            raise self.error("%r is not a plugin name" % self.val)
        nesting = 0
        while self.next():
            if self.val == "{":
                nesting += 1
            elif self.new_line() and nesting == 0:
                self.cursor -= 1
                break
            elif self.val == "}" and nesting > 0:
                nesting -= 1
            elif self.val == "}":
                raise self.error("unexpected '}' because no matching opening brace")
            elif self.val == "import" and self.new_line():
                self.skip_import()
                self.cursor -= 1
        if nesting:
            raise self.error("a plugin block is never closed: '}' expected")


def parse(text):
    """Server blocks of a Corefile; CorefileError (with the line) for what CoreDNS would refuse."""
    return _Parser(text or "").parse()


def imports(text):
    """Patterns (or snippet names) imported where server blocks stand: the files they match add server blocks."""
    parser = _Parser(text or "")
    parser.parse()
    return [pattern for pattern in parser.imports if pattern not in parser.snippets]


def zone_places(sources):
    """{(zone, port): ["<what> line <n>", ...]} of every zone and port the server blocks of the sources -
    (what, text) pairs: a Corefile and the files it imports, as CoreDNS reads them together - serve."""
    places = {}
    for what, text in sources:
        for server in check(text, what):
            for zone_port in server.zones():  # a key repeated in one block counts twice too
                if zone_port[1] is not None:
                    places.setdefault(zone_port, []).append("%s line %d" % (what, server.line))
    return places


def zones_defined_twice(sources):
    """The zone_places of the sources served more than once: CoreDNS refuses to start with any of them."""
    return {zone_port: where for zone_port, where in zone_places(sources).items() if len(where) > 1}


def check(text, what="the Corefile"):
    """parse(), with a message that says the text was left alone."""
    try:
        return parse(text)
    except CorefileError as exc:
        raise CorefileError("%s does not parse (%s); it was left unchanged: fix it first" % (what, exc))


def coredns_version(image):
    """(major, minor, patch) from a CoreDNS image tag, e.g. registry.k8s.io/coredns/coredns:v1.11.1; None if no tag says."""
    reference = (image or "").split("@", 1)[0]
    name, _colon, tag = reference.rpartition(":")
    match = _IMAGE_VERSION.match(tag) if name and "/" not in tag else None
    return tuple(int(part or 0) for part in match.groups()) if match else None


def forward_plugin(version):
    """`proxy` for CoreDNS older than 1.5 (which has no `forward` everywhere); `forward` otherwise or if unknown."""
    return "proxy" if version is not None and tuple(version) < (1, 5) else "forward"


def render_block(zone, targets, plugin="forward"):
    """The marked server block that sends `zone` to the targets."""
    if plugin not in PLUGINS:
        raise InputError("plugin: %r is not one of %s" % (plugin, ", ".join(PLUGINS)), field="plugin")
    zone = check_dns_name(zone)
    targets = [check_ip(target) for target in targets]
    if not targets:
        raise InputError("target_ips: at least one IP address is needed to forward zone %s to" % zone, field="target_ips")
    block = "\n".join([MARKER_BEGIN % zone, "%s:53 {" % zone, "    errors", "    cache 30",
                       "    %s . %s" % (plugin, " ".join(targets)), "}", MARKER_END % zone, ""])
    # Whatever the validators let through, the block reads back as exactly this one server block.
    if [token.text for token in tokenize(block)] != ["%s:53" % zone, "{", "errors", "cache", "30", plugin, ".", *targets, "}"]:
        raise InputError("zone %r and target_ips %r must be one word each (no spaces, quotes, braces or '#')"
                         % (zone, targets))
    return block


def marked_span(lines, zone):
    """(first, last) index of our marker lines for zone, or None; CorefileError if they are broken."""
    begins = [i for i, line in enumerate(lines) if line.strip() == MARKER_BEGIN % zone]
    ends = [i for i, line in enumerate(lines) if line.strip() == MARKER_END % zone]
    if not begins and not ends:
        return None
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise CorefileError("the marker lines '%s' / '%s' are broken (%d begin, %d end): repair or remove "
                            "them by hand" % (MARKER_BEGIN % zone, MARKER_END % zone, len(begins), len(ends)))
    return begins[0], ends[0]


def upsert(text, zone, targets, plugin="forward", what="the Corefile"):
    """text with the marked block for zone added in front or replaced in place."""
    block = render_block(zone, targets, plugin)
    zone = check_dns_name(zone)
    text = text or ""
    lines = text.splitlines(keepends=True)
    span = marked_span(lines, zone)
    for server in check(text, what):
        if span and span[0] < server.line - 1 < span[1]:
            continue
        if (zone, 53) in server.zones():
            raise CorefileError("%s already serves zone %s on port 53 (server block %s at line %d, outside the "
                                "marked lines): remove that block, or leave this zone to it"
                                % (what, zone, " ".join(server.keys), server.line))
    if span:
        result = "".join(lines[:span[0]]) + block + "".join(lines[span[1] + 1:])
    else:
        result = block + text
    check(result, "the edited " + what)
    return result


def remove(text, zone, what="the Corefile"):
    """text without the marked block for zone (unchanged if there is none)."""
    zone = check_dns_name(zone)
    text = text or ""
    lines = text.splitlines(keepends=True)
    span = marked_span(lines, zone)
    if span is None:
        return text
    check(text, what)
    result = "".join(lines[:span[0]] + lines[span[1] + 1:])
    check(result, "the edited " + what)
    return result
