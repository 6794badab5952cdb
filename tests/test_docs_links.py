"""Every relative link in the README, CONTRIBUTING.md, docs/*.md and benchmarks/README.md points at a file or folder
that exists (anchors are not checked): a renamed notebook, module or page breaks this test, not a reader's click.
CONTRIBUTING.md's table of test tiers names every pytest marker pyproject.toml declares."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from helpers import paths

ROOT = paths.root()
PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "benchmarks" / "README.md",
                *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)  # fenced code blocks: examples, not links
_CODE = re.compile(r"`[^`\n]*`")  # inline code
# [text](target "title"), ![alt](target), [label]: target, <a href="target">, <img src="target">
_INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
_HTML = re.compile(r"<(?:a|img|source)\b[^>]*?\b(?:href|src)=\"([^\"]+)\"", re.I)
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.I)  # http:, https:, mailto:, ..., and same-page anchors


def relative_links(text: str) -> list[str]:
    """The relative link targets of a Markdown text (without their #anchor or ?query), outside code."""
    text = _CODE.sub("", _FENCE.sub("", text))
    found = [m.group(1) for rx in (_INLINE, _REFERENCE, _HTML) for m in rx.finditer(text)]
    return [unquote(re.split(r"[#?]", t, maxsplit=1)[0]) for t in found if not _EXTERNAL.match(t)]


def test_the_link_finder_sees_every_link_form_and_skips_code_and_urls():
    text = ("See [a](docs/a.md#part), ![b](figures/b.png \"B\"), [c][ref], <img src=\"c.png\"> and"
            " [d](https://example.org/d.md), [e](#here), `[f](f.md)`.\n\n[ref]: ../c.md\n\n```\n[g](g.md)\n```\n")
    assert sorted(relative_links(text)) == ["../c.md", "c.png", "docs/a.md", "figures/b.png"]


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_relative_link_resolves(page):
    links = relative_links(page.read_text(encoding="utf-8"))
    broken = sorted({t for t in links if not (page.parent / t).exists()})
    assert not broken, f"{page.relative_to(ROOT)} links to missing {broken}"


def test_contributing_lists_every_pytest_marker():
    """CONTRIBUTING.md's tier table has a row for each marker pyproject.toml declares (and none it does not)."""
    import tomllib

    declared = {m.split(":", 1)[0].strip() for m in
                tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]}
    rows = set(re.findall(r"^\| `([a-z0-9_]+)` \|", (ROOT / "CONTRIBUTING.md").read_text(), re.M))
    assert declared, "no markers read from pyproject.toml"
    assert rows == declared, f"CONTRIBUTING.md's marker table lacks {sorted(declared - rows)}, has extra {sorted(rows - declared)}"
