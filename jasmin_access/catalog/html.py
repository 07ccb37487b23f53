"""``index.html``: one self-contained page listing the catalogued datasets.

No external scripts, fonts, styles or map tiles (a Content-Security-Policy in
the page forbids them): each extent is drawn as inline SVG on a graticule, and
a few lines of inline JavaScript filter the list and complete the two Python
lines with the URL the page was loaded from.
"""

from __future__ import annotations

import html
import json
from typing import Any

from ..reading.info import _size

__all__ = ["render_page"]

MAX_LISTED = 2000

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:70em;color:#222;padding:0 1em}
h1{font-size:1.5em;margin:.2em 0}#filter{width:100%;font-size:1.1em;padding:.4em;margin:.6em 0}
article{border:1px solid #ccd;border-radius:6px;padding:.8em;margin:.8em 0;display:flex;gap:1em}
article[hidden]{display:none}
article .meta{flex:1;min-width:0}article h2{font-size:1.15em;margin:0 0 .3em}
svg{flex:none;width:200px;height:100px;background:#eef4fb;border:1px solid #ccd}
table{border-collapse:collapse;font-size:.92em}td,th{padding:.1em .6em .1em 0;text-align:left}
pre{background:#f6f6f6;padding:.5em;overflow-x:auto;margin:.5em 0 0}.dim{color:#667}
"""

_JS = """
const base = document.baseURI;
document.querySelectorAll('code.open').forEach(function (el) {
  const href = el.dataset.href;
  const url = href.includes('://') ? href : new URL(href, base).href;
  el.textContent = 'import jasmin_access as ja\\nds = ja.open_dataset(' + JSON.stringify(url) + ')';
});
const box = document.getElementById('filter');
const items = Array.from(document.querySelectorAll('article'));
const count = document.getElementById('count');
function apply() {
  const terms = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
  let shown = 0;
  items.forEach(function (el) {
    const ok = terms.every(function (t) { return el.dataset.text.includes(t); });
    el.hidden = !ok;
    if (ok) { shown += 1; }
  });
  count.textContent = shown + ' of ' + items.length + ' datasets';
}
box.addEventListener('input', apply);
apply();
"""

_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'self'"
)


def _map(row: dict[str, Any]) -> str:
    """An equirectangular world frame with a 30° graticule and the extent drawn on it."""
    lines = [f'<line x1="{x}" y1="-90" x2="{x}" y2="90"/>' for x in range(-150, 180, 30)]
    lines += [f'<line x1="-180" y1="{y}" x2="180" y2="{y}"/>' for y in range(-60, 90, 30)]
    shapes = []
    if row["west"] is not None:
        w, s, e, n = row["west"], row["south"], row["east"], row["north"]
        spans = [(w, e)] if w <= e else [(w, 180.0), (-180.0, e)]
        for a, b in spans:
            shapes.append(
                f'<rect x="{a:.2f}" y="{-n:.2f}" width="{max(b - a, 0.5):.2f}" '
                f'height="{max(n - s, 0.5):.2f}" fill="#1f77b4" fill-opacity=".35" '
                'stroke="#1f5f9f" stroke-width="1.5" vector-effect="non-scaling-stroke"/>'
            )
    label = "extent unknown" if not shapes else f"lon {w:g}..{e:g}, lat {s:g}..{n:g}"
    return (
        f'<svg viewBox="-180 -90 360 180" role="img" aria-label="{html.escape(label)}">'
        f'<g stroke="#b8c8dc" stroke-width=".6">{"".join(lines)}</g>'
        '<rect x="-180" y="-90" width="360" height="180" fill="none" stroke="#99a"/>'
        f"{''.join(shapes)}</svg>"
    )


def _article(row: dict[str, Any]) -> str:
    esc = html.escape
    summary = json.loads(row["summary"] or "{}")
    variables = summary.get("variables") or []
    rows = "".join(
        f"<tr><td><b>{esc(n)}</b></td><td>{esc(u)}</td><td class=dim>{esc(ln)}</td></tr>"
        for n, u, ln in variables
    )
    time = (
        f"{esc(row['time_start'])} to {esc(row['time_end'])} ({esc(row['calendar'] or 'standard')})"
        if row["time_start"]
        else "no time axis"
    )
    dims = ", ".join(f"{esc(k)}: {v}" for k, v in (summary.get("dims") or {}).items())
    text = " ".join(
        [row["collection"], row["title"] or "", row["format"] or "", time, row["text"] or ""]
    ).lower()
    return (
        f'<article data-text="{esc(text)}"><div class="meta">'
        f"<h2>{esc(row['title'] or row['collection'])}</h2>"
        f'<div class="dim">{esc(row["collection"])} · {esc(row["format"] or "")} · '
        f"{_size(row['nbytes'])} uncompressed"
        + (f", {_size(row['stored_bytes'])} stored" if row["stored_bytes"] else "")
        + f"</div><div>time: {time}</div><div class=dim>dims: {dims}</div>"
        f"<table>{rows}</table>"
        f'<pre><code class="open" data-href="{esc(row["asset_href"])}">import jasmin_access as ja\n'
        f'ds = ja.open_dataset("{esc(row["asset_href"])}")</code></pre>'
        f"</div>{_map(row)}</article>"
    )


def render_page(rows: list[dict[str, Any]], title: str, description: str | None) -> bytes:
    """The page (UTF-8 bytes) for the index rows, one article per collection.

    Rows come sorted by collection and item id: the last row of a collection is
    a datastore's newest version, the one its article opens.
    """
    esc = html.escape
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen[row["collection"]] = row
    listed = list(seen.values())[:MAX_LISTED]
    more = len(seen) - len(listed)
    note = f"<p>{more} more datasets: search the catalog with jasmin-access.</p>" if more else ""
    body = "\n".join(_article(r) for r in listed)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>{esc(title)}</title><style>{_CSS}</style></head>
<body><h1>{esc(title)}</h1><p>{esc(description or "")}</p>
<p class="dim">STAC catalog: <a href="catalog.json">catalog.json</a> ·
search index: <a href="index.parquet">index.parquet</a> · <span id="count"></span></p>
<input id="filter" type="search" placeholder="Filter: variable, name, year, calendar..."
 aria-label="Filter datasets">
{body}
{note}
<script>{_JS}</script>
</body></html>
"""
    return page.encode()
