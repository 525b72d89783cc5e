"""Every page a publication holds works offline, and its Data Docs agree with the run.

On the session's small publication (tests/e2e/conftest.py): every page casefinder wrote
(lists, run report, the Data Docs copied into the publication) has only local links that
resolve and fetches nothing from the network (no stylesheet, script, image or font from a
URL); the run report links the Data Docs inside the publication; the Data Docs say
"Succeeded" for files that loaded with quarantined rows, as the run did, and their index
lists every result without JavaScript.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.slow


class _Refs(HTMLParser):
    """Every href/src of a page, with the tag and rel it came from."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("href", "src"):
            if found.get(name):
                self.refs.append((tag, (found.get("rel") or ""), str(found[name])))


def test_every_local_link_of_every_page_resolves_and_nothing_is_fetched(
    small_publication: dict,
) -> None:
    out: Path = small_publication["out"]
    pages = sorted(out.rglob("*.html"))
    as_of = small_publication["as_of"]
    assert out / "reports" / as_of / "run_report.html" in pages
    assert any(p.parent.name == "data_docs" for p in pages), pages
    broken, fetched = [], []
    for page in pages:
        parser = _Refs()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        for tag, rel, ref in parser.refs:
            parts = urlsplit(ref)
            loads = tag in {"script", "img", "iframe", "source"} or (
                tag == "link" and "icon" not in rel
            )
            if parts.scheme in {"http", "https"} or ref.startswith("//"):
                if loads:
                    fetched.append((str(page.relative_to(out)), ref))
                continue
            if parts.scheme or not parts.path:  # mailto:, data:, a #fragment
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.exists():
                broken.append((str(page.relative_to(out)), ref))
        css = re.findall(r"url\(\s*['\"]?(https?:)?//", page.read_text(errors="replace"))
        if css:
            fetched.append((str(page.relative_to(out)), "css url()"))
    assert broken == []
    assert fetched == []
    report = (out / "reports" / as_of / "run_report.html").read_text(encoding="utf-8")
    assert 'href="data_docs/index.html"' in report


def test_data_docs_status_agrees_with_the_run(small_publication: dict) -> None:
    """Files that loaded (some rows quarantined) are not "Failed" in the Data Docs."""
    out: Path = small_publication["out"]
    summary = json.loads(
        (out / "reports" / small_publication["as_of"] / "run_summary.json").read_text()
    )
    assert any(v["quarantined"] for v in summary["extracts"].values()), summary["extracts"]
    docs = out / "reports" / small_publication["as_of"] / "data_docs"
    pages = sorted((docs / "validations").rglob("*.html"))
    assert pages
    index = (docs / "index.html").read_text(encoding="utf-8")
    for page in pages:
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))
        assert "Status: Succeeded" in text, page
        assert "Status: Failed" not in text, page
        assert page.relative_to(docs).as_posix() in index  # reachable without JavaScript
    assert "Failed" not in re.sub(r"<[^>]+>", " ", index)
