# Copyright: meshops developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: one self-contained HTML page and a console table. Pure rendering, no cluster.

The model (built by the fleet check; every key below is read, nothing else)::

    {"generated": "2026-11-21T23:00:00Z",                      # shown as given
     "mesh": {"mesh_id": "mesh1", "trust_domain": "cluster.local"},
     "ok": false,                                             # the checker's overall verdict
     "checks": [{"id": "root", "title": "Same root CA"}, ...],  # columns, in this order
     "clusters": [{"name": "cluster1", "network": "network1", "reachable": true,
                   "gateway": {"address": "127.141.0.1", "port": 15443},   # or null when unknown
                   "exports": ["httpbin.bar", "web.shop"],                # <name>.<namespace>
                   "imports": [{"host": "reviews.shop.global", "from": ["cluster2"]}],  # the first 50
                   "imports_count": 1,                                                 # all of them
                   "results": {"<check id>": {"status": "pass" | "warn" | "fail" | "pending" | "skip",
                                              "detail": "...", "object": "...", "fix": "..."}}}],
                                              # detail, object and fix are optional
                   "revisions": {                 # optional (null when not read): read_revisions' result
                       "revisions": {"1-31-0": {"release": "istiod-1-31-0", "version": "1.31.0", "ready": true,
                                                "service": true, "in_use_by": ["tag default", "3 pods"]}},
                       "tags": {"default": {"revision": "1-31-0", "ours": true}},
                       "default_revision": "1-31-0",
                       "gateway": {"name": "istio-eastwestgateway", "revision": "1-31-0", "ready": true},
                       "namespaces": {"bar": "default"},                # the revision or tag each pins
                       "pods": {"1-31-0": 3, "1-30-0": 1},             # injected pods per revision
                       "dangling_webhooks": []}}],
     "routes": [{"from": "cluster2", "to": "cluster1", "count": 1,   # every (exporter, importer) with imports:
                 "hosts": ["reviews.shop.global"]}],                # the first 10 hosts, the whole count
     "version_window": {"ok": true, "min": "1.31", "max": "1.31",   # optional: the fleet's Istio minors
                        "outside": [], "unparsed": []},
     "failover": {"mode": "locality",                         # optional: hosts exported from several clusters
                  "services": [{"host": "reviews.shop.global",
                                "orders": {"cluster1": [["cluster1"], ["cluster2"]]}}]},  # tiers, first first
     "traces": [{"host": "reviews.shop.global", "source": "cluster1", "ok": true,  # optional: mesh_trace's traces
                 "broken": null, "hops": [{"hop": 1, "check": "export", "cluster": "cluster1",
                                           "status": "PASS", "evidence": ["..."], "fix": ""}]}]}

A check missing from a cluster's results shows as skip ("not run"), an unknown status as fail. An
unreachable cluster is drawn grey and counts as failed. A revision nothing uses (empty in_use_by)
is a note: playbooks/upgrade.yml removes it. Every string from the model is HTML-escaped: names come from clusters.
"""

from __future__ import annotations

import math
from html import escape

from ansible_collections.meshops.multicluster.plugins.module_utils._common.mesh_names import GATEWAY_PORT
from ansible_collections.meshops.multicluster.plugins.module_utils._control_plane.revisions import resolve
from ansible_collections.meshops.multicluster.plugins.module_utils._trace.hops import tables, title

STATUSES = {"pass": "\u2713", "warn": "!", "fail": "\u2717", "pending": "\u2026", "skip": "\u2013"}
HEALTH = {"pass": "healthy", "warn": "warnings", "fail": "failing", "pending": "pending", "unreachable": "unreachable"}
# Statuses listed as problems, in this order: pending is what a check-mode run would write.
PROBLEMS = ("fail", "warn", "pending")
FIRST_NAMES = 3                  # names shown before "+N more"
BOX_W, BOX_H = 240, 128          # one cluster in the diagram

CSS = """
:root{--pass:#1a7f37;--pass-bg:#e6f6ea;--warn:#9a6700;--warn-bg:#fff5d6;--fail:#c62828;--fail-bg:#fdecec;
--skip:#6b7280;--skip-bg:#f3f4f6;--pending:#0b61a4;--pending-bg:#e7f0fb;--unreachable:#6b7280;--ink:#1f2933;--muted:#5f6b7a;--line:#e3e7ed}
*{box-sizing:border-box}
body{margin:0;background:#f5f7fa;color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:1320px;margin:0 auto;padding:18px 28px 28px}
header{display:flex;align-items:center;gap:18px;background:#fff;border:1px solid var(--line);
border-left:6px solid var(--v);border-radius:10px;padding:12px 22px;margin-bottom:16px}
header .mark{width:44px;height:44px;border-radius:50%;background:var(--v);color:#fff;font-size:24px;
font-weight:700;display:flex;align-items:center;justify-content:center;flex:none}
h1{margin:0;font-size:22px}
h2{margin:0 0 12px;font-size:16px}
.meta{color:var(--muted);margin-top:2px}.meta b{color:var(--ink);font-weight:600}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 22px;margin-bottom:16px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
td.c{white-space:nowrap;font-weight:600}
td.c small{display:block;font-weight:400;color:var(--muted)}
.s{display:inline-block;min-width:64px;padding:2px 9px;border-radius:999px;font-weight:600;font-size:13px;
color:var(--k);background:var(--k-bg);text-decoration:none;white-space:nowrap}
.pass{--k:var(--pass);--k-bg:var(--pass-bg);--v:var(--pass)}
.warn{--k:var(--warn);--k-bg:var(--warn-bg);--v:#d4a72c}
.fail{--k:var(--fail);--k-bg:var(--fail-bg);--v:var(--fail)}
.pending{--k:var(--pending);--k-bg:var(--pending-bg);--v:var(--pending)}
.skip,.unreachable{--k:var(--skip);--k-bg:var(--skip-bg);--v:var(--skip)}
details{margin-top:12px}
summary{cursor:pointer;font-weight:600}
.issues td{font-size:13px}.issues code{font-size:12px;background:#f3f4f6;padding:1px 5px;border-radius:4px}
.fix{color:var(--ink)}.fix::before{content:"Fix: ";font-weight:600}
svg{display:block;max-width:100%;height:auto;margin:0 auto}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--ink)}
.bar{display:flex;justify-content:space-between;align-items:baseline;flex-wrap:wrap;gap:8px}
.legend{display:flex;gap:18px;flex-wrap:wrap;color:var(--muted);font-size:13px}
.legend span::before{content:"";display:inline-block;width:11px;height:11px;border-radius:3px;
background:var(--v);margin-right:6px;vertical-align:-1px}
.none{color:var(--muted)}
"""


def _e(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def _plural(n: int, word: str) -> str:
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def _first(names, n=FIRST_NAMES, count=None) -> str:
    """The first n names and "+N more" of count (default, all of names)."""
    names = list(names)
    count = len(names) if count is None else count
    shown = names[:n]
    more = " +%d more" % (count - len(shown)) if count > len(shown) else ""
    return ", ".join(shown) + more


def _result(cluster: dict, check_id: str) -> dict:
    r = (cluster.get("results") or {}).get(check_id) or {"status": "skip", "detail": "not run"}
    return r if r.get("status") in STATUSES else {**r, "status": "fail"}


def _health(cluster: dict) -> str:
    if not cluster.get("reachable", True):
        return "unreachable"
    statuses = {_result(cluster, check_id)["status"] for check_id in cluster.get("results") or {}}
    return next((status for status in PROBLEMS if status in statuses), "pass")


def _problems(model: dict) -> list[tuple[dict, dict, dict]]:
    """(cluster, check, result) for every failed, warned or pending check, failures first."""
    found = [(c, k, _result(c, k["id"])) for c in model.get("clusters", []) for k in model.get("checks", [])]
    found = [p for p in found if p[2]["status"] in PROBLEMS]
    return sorted(found, key=lambda p: PROBLEMS.index(p[2]["status"]))


def _verdict(model: dict) -> tuple[str, str]:
    problems = _problems(model)
    failed, warned, waiting = (sum(1 for p in problems if p[2]["status"] == status) for status in PROBLEMS)
    unreachable = sum(1 for c in model.get("clusters", []) if not c.get("reachable", True))
    broken = sum(1 for trace in model.get("traces") or [] if not trace.get("ok"))
    if not failed and not warned and not unreachable and not broken and model.get("ok", True):
        if waiting:
            return "pending", "%d pending (check mode: the run would write them), nothing failed" % waiting
        return "pass", "All checks pass"
    parts = ["%d failed" % failed, _plural(warned, "warning")]
    if waiting:
        parts.append("%d pending" % waiting)
    if unreachable:
        parts.append(_plural(unreachable, "cluster") + " unreachable")
    if broken:
        parts.append(_plural(broken, "trace") + " broken")
    return ("fail" if failed or unreachable or broken or not model.get("ok", True) else "warn"), ", ".join(parts)


def _gateway(cluster: dict) -> str:
    gw = cluster.get("gateway") or {}
    if not gw.get("address"):
        return "gateway unknown"
    address = str(gw["address"])
    address = "[%s]" % address if ":" in address else address
    return "%s:%s" % (address, gw.get("port", GATEWAY_PORT))


def _flows(model: dict) -> dict[tuple[str, str], tuple[int, list[str]]]:
    """(exporting cluster, importing cluster) -> (how many hosts, the first of them without .global)."""
    flows = {}
    for route in model.get("routes") or []:
        hosts = [str(host)[:-len(".global")] if str(host).endswith(".global") else str(host)
                 for host in route.get("hosts") or []]
        count = route.get("count")
        flows[str(route.get("from")), str(route.get("to"))] = (count if isinstance(count, int) else len(hosts), hosts)
    return flows


def _pins(revisions: dict, revision: str) -> list[str]:
    """The namespaces that pin a revision, directly or through a tag ("foo (tag canary)")."""
    tags = revisions.get("tags") or {}
    found = []
    for namespace, pin in sorted((revisions.get("namespaces") or {}).items()):
        if resolve(pin, tags) == revision:
            found.append(str(namespace) if pin == revision else "%s (tag %s)" % (namespace, pin))
    return found


def _revision_rows(cluster: dict) -> list[dict]:
    """One row per revision a cluster installs, or that a tag, its gateway or a pod still names (not
    installed): the revision the default tag serves first."""
    revisions = cluster.get("revisions") or {}
    installed = revisions.get("revisions") or {}
    tags = revisions.get("tags") or {}
    gateway = revisions.get("gateway") or {}
    gateway_rev = resolve(gateway.get("revision"), tags)
    pods = revisions.get("pods") or {}
    named = set(installed) | set(pods) | {t["revision"] for t in tags.values() if t.get("revision")}
    named |= {gateway_rev} if gateway_rev else set()
    default = revisions.get("default_revision")
    rows = []
    for rev in sorted(named, key=lambda r: (r != default, str(r))):
        about = installed.get(rev)
        rows.append({
            "revision": rev, "installed": about is not None, "version": (about or {}).get("version"),
            "ready": bool((about or {}).get("ready")),
            "tags": sorted(str(tag) for tag, t in tags.items() if t.get("revision") == rev),
            "gateway": gateway.get("name") if gateway_rev == rev else None,
            "pods": pods.get(rev, 0), "namespaces": _pins(revisions, rev),
            "unused": about is not None and not about.get("in_use_by")})
    return rows


def _revision_state(row: dict) -> str:
    if not row["installed"]:
        return "not installed"
    if row["unused"]:
        return "unused: playbooks/upgrade.yml removes it"
    return "ready" if row["ready"] else "not ready"


def _window(model: dict) -> tuple[str, str]:
    """(status, sentence) of the fleet's version window; ("", "") when the model has none."""
    window = model.get("version_window")
    if not window:
        return "", ""
    if not window.get("min"):
        return "skip", "no istiod version read"
    span = "Istio %s" % window["min"] if window["min"] == window.get("max") else \
        "Istio %s to %s" % (window["min"], window.get("max"))
    if window.get("outside"):
        return "fail", "%s: more than one minor apart; outside the window: %s" % (span, ", ".join(window["outside"]))
    if window.get("unparsed"):
        return "warn", "%s; not understood: %s" % (span, "; ".join(window["unparsed"]))
    return "pass", "%s: within one minor" % span


# ---------------------------------------------------------------------------- HTML

def _badge(status: str, title: str = "", href: str = "") -> str:
    tag = 'a href="#%s"' % _e(href) if href else "span"
    return '<%s class="s %s" title="%s">%s %s</%s>' % (
        tag, status, _e(title), STATUSES[status], status, tag.split()[0])


def _issue_id(cluster: dict, check: dict) -> str:
    return "issue-%s-%s" % (cluster.get("name"), check["id"])


def _checks_table(model: dict) -> str:
    head = "".join("<th>%s</th>" % _e(k.get("title", k["id"])) for k in model.get("checks", []))
    rows = []
    for c in model.get("clusters", []):
        cells = []
        for k in model.get("checks", []):
            r = _result(c, k["id"])
            tip = "; ".join(str(x) for x in (r.get("detail"), r.get("object")) if x)
            href = _issue_id(c, k) if r["status"] in PROBLEMS else ""
            cells.append("<td>%s</td>" % _badge(r["status"], tip, href))
        reach = "" if c.get("reachable", True) else " &middot; unreachable"
        rows.append('<tr><td class="c">%s<small>%s%s</small></td>%s</tr>'
                    % (_e(c.get("name")), _e(c.get("network")), reach, "".join(cells)))
    return "<table><thead><tr><th>Cluster</th>%s</tr></thead><tbody>%s</tbody></table>" % (
        head, "".join(rows))


def _problems_section(model: dict) -> str:
    problems = _problems(model)
    if not problems:
        return '<p class="none">Nothing to fix.</p>'
    rows = []
    for c, k, r in problems:
        obj = "<code>%s</code>" % _e(r["object"]) if r.get("object") else ""
        fix = '<div class="fix">%s</div>' % _e(r["fix"]) if r.get("fix") else ""
        rows.append('<tr id="%s"><td>%s</td><td class="c">%s</td><td>%s</td><td>%s</td><td>%s%s</td></tr>' % (
            _e(_issue_id(c, k)), _badge(r["status"]), _e(c.get("name")), _e(k.get("title", k["id"])),
            obj, _e(r.get("detail")), fix))
    return ('<details open><summary>%s to fix</summary><table class="issues"><thead><tr><th>Status</th>'
            "<th>Cluster</th><th>Check</th><th>Object</th><th>Detail and fix</th></tr></thead>"
            "<tbody>%s</tbody></table></details>" % (_plural(len(problems), "problem"), "".join(rows)))


def _layout(n: int) -> tuple[int, int, list[tuple[float, float]]]:
    """Canvas size and box centres: a row for 1-2 clusters, an ellipse beyond."""
    if n <= 2:
        points = [(i * 470.0, 0.0) for i in range(n)]
    else:
        rx, ry = (380, 135) if n == 3 else (290 + 24 * n, 110 + 24 * n)
        points = [(rx * math.sin(2 * math.pi * i / n), -ry * math.cos(2 * math.pi * i / n)) for i in range(n)]
    xs, ys, margin = [p[0] for p in points], [p[1] for p in points], 16
    left, top = min(xs) - BOX_W / 2 - margin, min(ys) - BOX_H / 2 - margin
    width, height = max(xs) - left + BOX_W / 2 + margin, max(ys) - top + BOX_H / 2 + margin
    return int(width), int(height), [(x - left, y - top) for x, y in points]


def _to_border(centre, towards, pad=6.0):
    """Where the line from a box centre towards a point leaves the box (plus pad)."""
    (x, y), (tx, ty) = centre, towards
    dx, dy = tx - x, ty - y
    scale = min((BOX_W / 2 + pad) / abs(dx) if dx else math.inf, (BOX_H / 2 + pad) / abs(dy) if dy else math.inf)
    return x + dx * scale, y + dy * scale


def _svg_text(x, y, text, cls="", size=12, weight=400, anchor="start", width=None) -> str:
    text = str(text)
    limit = int(width / (size * 0.56)) if width else 0
    shown = text if not limit or len(text) <= limit else text[:limit - 1] + "\u2026"
    return '<text x="%.0f" y="%.0f" font-size="%d" font-weight="%d" text-anchor="%s"%s>%s%s</text>' % (
        x, y, size, weight, anchor, ' class="%s"' % cls if cls else "", _e(shown),
        "<title>%s</title>" % _e(text) if shown != text else "")


def _fit(names: list[str], chars: int) -> str:
    """As many names as fit in chars, then "+N more"."""
    shown = []
    for i, name in enumerate(names):
        rest = len(names) - i - 1
        more = " +%d more" % rest if rest else ""
        if shown and len(", ".join(shown + [name]) + more) > chars:
            break
        shown.append(name)
    text = ", ".join(shown)
    return text + (" +%d more" % (len(names) - len(shown)) if len(names) > len(shown) else "")


def _cluster_box(c: dict, x: float, y: float, imported: int) -> str:
    health = _health(c)
    left, top, w = x - BOX_W / 2, y - BOX_H / 2, BOX_W - 28
    exports = [str(e) for e in c.get("exports") or []]
    counts = "%s \u00b7 %d imported" % (_plural(len(exports), "export"), imported)
    return "".join([
        '<g class="%s"><title>%s (%s)\nexports: %s</title>' % (
            health, _e(c.get("name")), HEALTH[health], _e(", ".join(exports) or "none")),
        '<rect x="%.0f" y="%.0f" width="%d" height="%d" rx="10" fill="#fff" stroke="var(--v)" '
        'stroke-width="2"/>' % (left, top, BOX_W, BOX_H),
        '<rect x="%.0f" y="%.0f" width="%d" height="8" rx="4" fill="var(--v)"/>' % (left + 1, top + 1, BOX_W - 2),
        _svg_text(left + 14, top + 32, c.get("name"), size=15, weight=700, width=w - 24),
        '<circle cx="%.0f" cy="%.0f" r="7" fill="var(--v)"/>' % (left + BOX_W - 20, top + 27),
        _svg_text(left + 14, top + 52, "%s \u00b7 %s" % (c.get("network"), HEALTH[health]), "m", width=w),
        _svg_text(left + 14, top + 71, _gateway(c), size=12, width=w),
        _svg_text(left + 14, top + 96, counts, "m", size=11, weight=600, width=w),
        _svg_text(left + 14, top + 112, _fit(exports, int(w / 6.2)) or "\u2013", size=11, width=w),
        "</g>"])


def _edge(a, b, bend: float, title: str, label: str, both: bool) -> str:
    """An arrow from box centre a to box centre b, bent to its right by bend, with an optional label."""
    (x1, y1), (x2, y2) = a, b
    length = math.hypot(x2 - x1, y2 - y1) or 1
    bend = min(bend, length / 5)
    cx, cy = (x1 + x2) / 2 - (y2 - y1) / length * bend, (y1 + y2) / 2 + (x2 - x1) / length * bend
    sx, sy = _to_border(a, (cx, cy), 10 if both else 4)
    ex, ey = _to_border(b, (cx, cy), 10)
    out = ['<g><title>%s</title><path d="M%.0f,%.0f Q%.0f,%.0f %.0f,%.0f" fill="none" stroke="#5b7db1" '
           'stroke-width="%s" marker-end="url(#arrow)"%s/>' % (
               _e(title), sx, sy, cx, cy, ex, ey, "1.6" if label else "1.1",
               ' marker-start="url(#arrow)" opacity=".55"' if both else "")]
    if label:
        mx, my = (sx + 2 * cx + ex) / 4, (sy + 2 * cy + ey) / 4
        pill = min(len(label), 24) * 6.6 + 16
        out.append('<rect x="%.0f" y="%.0f" width="%.0f" height="20" rx="10" fill="#eef3fb" stroke="#b9cbe6"/>%s'
                   % (mx - pill / 2, my - 10, pill, _svg_text(mx, my + 4, label, size=11, anchor="middle",
                                                              width=pill - 10)))
    return "".join(out) + "</g>"


def _diagram(model: dict) -> str:
    clusters = model.get("clusters", [])
    if not clusters:
        return '<p class="none">No clusters.</p>'
    width, height, centres = _layout(len(clusters))
    at = {str(c.get("name")): centres[i] for i, c in enumerate(clusters)}
    flows = {k: v for k, v in _flows(model).items() if k[0] in at and k[1] in at and k[0] != k[1]}
    edges = []
    dense = len(flows) > 2 * len(clusters)
    if not dense:
        # Few routes: one labelled arrow per route, A->B and B->A bent apart.
        for (source, target), (count, hosts) in sorted(flows.items()):
            edges.append(_edge(at[source], at[target], 60, "%s \u2192 %s: %s" % (
                source, target, _first(hosts, len(hosts), count)),
                (hosts[0] if hosts else "") + (" +%d" % (count - 1) if count > 1 else ""), False))
    else:
        # Many routes: one plain line per pair of clusters (arrowheads at the importers); counts in the boxes.
        for (source, target), (count, hosts) in sorted(flows.items()):
            back = flows.get((target, source))
            if back and source > target:
                continue
            title = "%s \u2192 %s: %s" % (source, target, _first(hosts, 10, count))
            if back:
                title += "\n%s \u2192 %s: %s" % (target, source, _first(back[1], 10, back[0]))
            edges.append(_edge(at[source], at[target], 0, title, "", bool(back)))
    imported = {name: sum(count for route, (count, _hosts) in flows.items() if route[1] == name) for name in at}
    note = ('<p class="none">%d routes: one line per pair of clusters, arrowheads at the importers; hover a line '
            "for its services.</p>" % len(flows)) if dense else ""
    boxes = "".join(_cluster_box(c, *centres[i], imported[str(c.get("name"))]) for i, c in enumerate(clusters))
    return ('<svg viewBox="0 0 %d %d" width="%d" role="img" aria-label="Mesh diagram: clusters and imported '
            'services"><style>.m{fill:var(--muted)}</style>'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5b7db1"/></marker></defs>'
            "%s%s</svg>%s" % (width, height, width, "".join(edges), boxes, note))


def _revisions_section(model: dict) -> str:
    """Per cluster the revisions it runs, where its tags point, its gateway's revision, its pods per
    revision and the namespaces that pin one; above, the fleet's version window."""
    status, sentence = _window(model)
    rows = []
    for c in model.get("clusters", []):
        for i, r in enumerate(_revision_rows(c)):
            rows.append('<tr><td class="c">%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%s</td>'
                        '<td%s>%s</td></tr>' % (
                            _e(c.get("name")) if i == 0 else "", _e(r["revision"]), _e(r["version"] or "\u2013"),
                            _e(", ".join(r["tags"]) or "\u2013"), _e(r["gateway"] or "\u2013"), r["pods"],
                            _e(", ".join(r["namespaces"]) or "\u2013"),
                            ' class="none"' if r["unused"] or not r["installed"] else "", _e(_revision_state(r))))
    if not rows and not sentence:
        return ""
    head = '<p>Fleet version window: <span class="s %s">%s %s</span></p>' % (
        status, STATUSES[status], _e(sentence)) if sentence else ""
    table = ("<table><thead><tr><th>Cluster</th><th>Revision</th><th>Istio</th><th>Tags</th><th>Gateway</th>"
             "<th>Pods</th><th>Namespaces</th><th>State</th></tr></thead><tbody>%s</tbody></table>" % "".join(rows)
             ) if rows else '<p class="none">No revisions read.</p>'
    return "<section><h2>Control plane revisions</h2>%s%s</section>" % (head, table)


def _flows_section(model: dict) -> str:
    flows = _flows(model)
    if not flows:
        return '<p class="none">No imported services.</p>'
    rank = {str(c.get("name")): i for i, c in enumerate(model.get("clusters", []))}
    routes = sorted(flows, key=lambda route: [(rank.get(name, len(rank)), name) for name in route])
    rows = "".join('<tr><td class="c">%s \u2192 %s</td><td>%d</td><td>%s</td></tr>' % (
        _e(s), _e(t), flows[s, t][0], _e(_first(flows[s, t][1], 8, flows[s, t][0]))) for s, t in routes)
    return ("<details><summary>Imported services by route (%d)</summary><table><thead><tr><th>Exporting "
            "\u2192 importing cluster</th><th>Count</th><th>Services</th></tr></thead><tbody>%s</tbody>"
            "</table></details>" % (sum(count for count, _hosts in flows.values()), rows))


def _order(tiers: list) -> str:
    """Failover tiers as one line: cluster1 → cluster2, cluster3."""
    return " \u2192 ".join(", ".join(tier) for tier in tiers)


def _failover_section(model: dict) -> str:
    failover = model.get("failover") or {}
    services = failover.get("services") or []
    if not services:
        return ""
    rows = "".join('<tr><td class="c">%s</td><td>%s</td><td>%s</td></tr>' % (
        _e(s["host"]) if i == 0 else "", _e(cluster), _e(_order(tiers)))
        for s in services for i, (cluster, tiers) in enumerate(sorted(s["orders"].items())))
    return ("<details><summary>Failover order of services exported from several clusters (%d, %s)</summary>"
            "<table><thead><tr><th>Service</th><th>Calls from</th><th>Go to, in order</th></tr></thead>"
            "<tbody>%s</tbody></table></details>" % (len(services), _e(failover.get("mode", "locality")), rows))


def _traces_section(model: dict) -> str:
    """One table per traced host and source, hop by hop; a broken trace is open."""
    traces = model.get("traces") or []
    if not traces:
        return ""
    shown = {"PASS": "pass", "FAIL": "fail", "SKIP": "skip"}
    parts = []
    for trace in traces:
        rows = "".join('<tr><td class="c">%d %s</td><td>%s</td><td>%s</td><td>%s%s</td></tr>' % (
            hop["hop"], _e(hop["check"]), _e(hop["cluster"] or "-"), _badge(shown.get(hop["status"], "fail")),
            "<br>".join(_e(line) for line in hop["evidence"]),
            '<div class="fix">%s</div>' % _e(hop["fix"]) if hop["fix"] and hop["status"] == "FAIL" else "")
            for hop in trace["hops"])
        parts.append('<details%s><summary>%s %s</summary><table><thead><tr><th>Hop</th><th>Cluster</th><th>Status'
                     '</th><th>Evidence</th></tr></thead><tbody>%s</tbody></table></details>' % (
                         "" if trace.get("ok") else " open", _badge("pass" if trace.get("ok") else "fail"),
                         _e(title(trace)), rows))
    return "<section><h2>Traces</h2>%s</section>" % "".join(parts)


def render_html(model: dict) -> str:
    """The whole report as one HTML page that fetches nothing."""
    verdict, headline = _verdict(model)
    mesh = model.get("mesh") or {}
    legend = "".join('<span class="%s">%s</span>' % (k, v.capitalize()) for k, v in HEALTH.items())
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Mesh %s: %s</title><style>%s</style></head><body><main>"
        '<header class="%s"><div class="mark">%s</div><div><h1>%s</h1><div class="meta">mesh <b>%s</b> '
        "&middot; trust domain <b>%s</b> &middot; %s &middot; generated <b>%s</b></div></div></header>"
        "<section><h2>Checks</h2>%s%s</section>%s%s"
        '<section><div class="bar"><h2>Mesh</h2><div class="legend">%s<span style="--v:#5b7db1">Exporting '
        "\u2192 importing cluster</span></div></div>%s%s%s</section></main></body></html>\n"
    ) % (_e(mesh.get("mesh_id")), _e(headline), CSS, verdict, STATUSES[verdict], _e(headline),
         _e(mesh.get("mesh_id")), _e(mesh.get("trust_domain")), _plural(len(model.get("clusters", [])), "cluster"),
         _e(model.get("generated")), _checks_table(model), _problems_section(model), _traces_section(model), _revisions_section(model),
         legend, _diagram(model),
         _flows_section(model), _failover_section(model))


# ---------------------------------------------------------------------------- text

def render_text(model: dict) -> str:
    """Clusters x checks as an aligned console table, then every problem with its fix."""
    checks = model.get("checks", [])
    header = ["cluster"] + [k.get("title", k["id"]) for k in checks]
    shown = {"pass": "pass", "warn": "WARN", "fail": "FAIL", "pending": "PENDING", "skip": "-"}
    rows = [[str(c.get("name")) + ("" if c.get("reachable", True) else " (unreachable)")]
            + [shown[_result(c, k["id"])["status"]] for k in checks] for c in model.get("clusters", [])]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()

    mesh = model.get("mesh") or {}
    out = ["mesh %s (trust domain %s), %s: %s" % (mesh.get("mesh_id"), mesh.get("trust_domain"),
                                                  model.get("generated"), _verdict(model)[1]),
           line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]
    for c, k, r in _problems(model):
        out.append("%s %s / %s: %s" % (r["status"].upper(), c.get("name"), k.get("title", k["id"]),
                                       r.get("detail") or r["status"]))
        out += ["    %s: %s" % (key, r[key]) for key in ("object", "fix") if r.get(key)]
    out += _revisions_text(model)
    # A broken trace with its hops; one that passes, its title only.
    out += [line for trace in model.get("traces") or []
            for line in (tables([trace]) if not trace.get("ok") else ["== " + title(trace)])]
    for service in (model.get("failover") or {}).get("services") or []:
        out.append("failover %s: %s" % (service["host"], "; ".join(
            "%s: %s" % (cluster, _order(tiers)) for cluster, tiers in sorted(service["orders"].items()))))
    return "\n".join(out) + "\n"


def _revisions_text(model: dict) -> list[str]:
    """The fleet's version window, then a line per revision of every cluster."""
    status, sentence = _window(model)
    out = ["version window: %s%s" % (sentence, " (FAIL)" if status == "fail" else "")] if sentence else []
    for c in model.get("clusters", []):
        for r in _revision_rows(c):
            parts = ["Istio %s" % r["version"]] if r["version"] else []
            parts.append(_revision_state(r))
            parts += ["tags %s" % ", ".join(r["tags"])] if r["tags"] else []
            parts += ["gateway %s" % r["gateway"]] if r["gateway"] else []
            parts += [_plural(r["pods"], "pod")] if r["pods"] else []
            parts += ["namespaces %s" % ", ".join(r["namespaces"])] if r["namespaces"] else []
            out.append("revision %s / %s: %s" % (c.get("name"), r["revision"], "; ".join(parts)))
    return out
