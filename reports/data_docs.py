"""The Great Expectations Data Docs of a run, copied into its published reports and made offline.

GX writes its Data Docs beside the warehouse; their pages load Bootstrap, jQuery, Font Awesome
and Vega from CDNs, which an NHS desktop without internet cannot reach. The publication keeps
its own copy under `reports/<as_of>/data_docs/` (linked from the run report, so the link lives
and dies with the publication) in which every reference to the network is removed: external
stylesheets and scripts are dropped (the pages are rendered HTML; the scripts only add sorting
and charts) and a small local stylesheet is inlined instead.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

FOLDER = "data_docs"

_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"'](?:https?:)?//[^>]*>", re.I)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.I | re.S)
_EXTERNAL_IMG = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"'](?:https?:)?//[^>]*>", re.I)
_STATIC = re.compile(r"(\b(?:href|src)\s*=\s*[\"'])(?:\.\.?/)*static/", re.I)
_TAG = re.compile(r"<[^>]+>")
_STATUS = re.compile(r"Status:\s*(\w+)")
_EXTERNAL_IMPORT = re.compile(r"@import\s+url\(\s*[\"']?(?:https?:)?//[^)]*\)\s*;?", re.I)
_EXTERNAL_FONT = re.compile(r"url\(\s*[\"']?(?:https?:)?//[^)]*\)", re.I)

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Arial,sans-serif;margin:0;color:#212529;
background:#fff;line-height:1.45}
.container,.container-fluid{padding:0 1.2rem;max-width:1200px;margin:0 auto}
nav,.navbar{background:#005eb8;color:#fff;padding:.6rem 1.2rem}
nav a,.navbar a{color:#fff}
.row{display:flex;flex-wrap:wrap;gap:1rem}
.col-md-2,.col-md-3,.col-md-4{flex:0 0 22%}.col-md-8,.col-md-9,.col-md-10{flex:1 1 70%}
.col-12,.col{flex:1 1 100%}
.card{border:1px solid #d8dde0;border-radius:4px;margin:.8rem 0;padding:.6rem}
.card-header{font-weight:600;border-bottom:1px solid #d8dde0;padding:.3rem 0;margin-bottom:.4rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{border:1px solid #d8dde0;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f4f5}
.text-success,.fa-check-circle{color:#007f3b}.text-danger,.fa-times{color:#d5281b}
.badge{display:inline-block;padding:.1rem .4rem;border-radius:3px;background:#e8edee}
.sticky{position:static}.d-none{display:none}.collapse:not(.show){display:none}
code,pre{background:#f0f4f5;padding:.1rem .3rem;white-space:pre-wrap}
img{max-width:100%}
"""


def make_offline(page: str) -> str:
    """One Data Docs page without network references, with the local stylesheet inlined."""
    page = _EXTERNAL_LINK.sub("", page)
    page = _EXTERNAL_IMG.sub("", page)  # GX's logo, fetched with the site's id: a beacon
    page = _SCRIPT.sub("", page)
    page = _EXTERNAL_IMPORT.sub("", page)
    page = _EXTERNAL_FONT.sub("none", page)
    style = f"<style>{STYLE}</style>"
    if "</head>" in page:
        return page.replace("</head>", f"{style}</head>", 1)
    return style + page


def copy_offline(index: Path, target: Path) -> Path | None:
    """Copy the Data Docs site whose `index.html` is `index` to `target`, offline.

    Returns the copy's index page, or None when the site is missing (GX failed: the run
    report then says that no Data Docs were written).
    """
    site = Path(index).parent
    if not Path(index).is_file():
        return None
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(site, target)
    for path in target.rglob("*"):
        if path.suffix.lower() in {".html", ".htm", ".css"}:
            text = path.read_text(encoding="utf-8", errors="replace")
            if path.suffix.lower() == ".css":
                text = _EXTERNAL_FONT.sub("none", _EXTERNAL_IMPORT.sub("", text))
            else:
                # GX links `static/` with one `../` too few from validation pages.
                up = Path(os.path.relpath(target / "static", path.parent)).as_posix()
                text = _STATIC.sub(rf"\g<1>{up}/", make_offline(text))
            path.write_text(text, encoding="utf-8")
    index = target / "index.html"
    index.write_text(_index_page(target), encoding="utf-8")
    return index


def _status(page: Path) -> str:
    """The "Status: ..." a GX validation page states (Succeeded, Failed), or "unknown"."""
    found = _STATUS.search(_TAG.sub(" ", page.read_text(encoding="utf-8", errors="replace")))
    return found.group(1) if found else "unknown"


def _index_page(target: Path) -> str:
    """The site's index without JavaScript (GX's fills its tables with scripts): every
    validation page with its status, and every expectation suite."""
    rows = []
    for page in sorted((target / "validations").rglob("*.html")):
        suite = page.relative_to(target / "validations").parts[0]
        href = page.relative_to(target).as_posix()
        rows.append(
            f"<tr><td>{html.escape(suite)}</td><td>{html.escape(_status(page))}</td>"
            f'<td><a href="{html.escape(href)}">{html.escape(page.stem)}</a></td></tr>'
        )
    suites = [
        f'<li><a href="{html.escape(p.relative_to(target).as_posix())}">'
        f"{html.escape(p.stem)}</a></li>"
        for p in sorted((target / "expectations").rglob("*.html"))
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Data quality: Great Expectations Data Docs</title><style>{STYLE}</style>"
        '</head><body><nav>Data quality (Great Expectations)</nav><div class="container">'
        "<h1>Validation results</h1><p>One result per extract file of the run's snapshot. "
        "Each rule's observed value is the number of rows that broke it; those rows were "
        "quarantined and the file loaded, so the status is Succeeded. A file the run refuses "
        "stops the run before validation.</p>"
        "<table><thead><tr><th>expectation suite</th><th>status</th><th>result</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
        f"<h2>Expectation suites</h2><ul>{''.join(suites)}</ul></div></body></html>\n"
    )
