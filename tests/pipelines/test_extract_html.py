"""Web pages: told by content, reduced to their main text, titled by ``<title>``."""

from pathlib import Path

import pytest

from pipelines.config import get_settings
from pipelines.errors import EmptyInput
from pipelines.extract import extract
from pipelines.sources import inspect, sniff

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Tide Tables &amp; Moons</title>
<style>.lead { color: red } /* stylesecret */</style>
<script>var scriptsecret = "zebrafish"; document.write("<p>injected</p>");</script></head>
<body>
<nav><ul><li><a href="/">Home navlinkword</a></li><li><a href="/about">About navlinkword</a></li></ul></nav>
<main><article>
<h1>How the moon makes tides</h1>
<p>The moon pulls the oceans toward it, and the water piles up in a bulge that follows the moon
around the planet. Twice a day the coast passes under a bulge and the water rises.</p>
<h2>Spring tides</h2>
<p>When the sun and the moon line up, their pulls add together and the tides are larger than usual;
sailors call these spring tides although they happen in every season.</p>
<pre><code>def tide_height(base):
    return base * 2
</code></pre>
<table><tr><th>Port</th><th>Range</th></tr><tr><td>Saint-Malo</td><td>13 m</td></tr></table>
</article></main>
<aside>Sponsored sidebarword advert</aside>
<footer>Copyright footerword</footer>
<script>console.log("scriptsecret2")</script>
</body></html>
"""

XHTML = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Chapter One</title></head>
<body><h1>Chapter One</h1><p>It was a dark and stormy night; the rain fell in torrents, except at
occasional intervals, when it was checked by a violent gust of wind.</p></body></html>
"""


def test_a_page_is_html_by_content_whatever_its_name(tmp_path: Path) -> None:
    page = tmp_path / "saved-page.txt"
    page.write_text(PAGE, encoding="utf-8")
    source = inspect(page, get_settings())
    assert source.kind == "html"
    assert sniff(XHTML.encode())[0] == "html"
    # Markdown and prose that quote tags stay text.
    assert sniff(b"# Notes\n\nUse <html> and <body> tags in a page.\n")[0] == "text"
    assert sniff(b"Plain words about a <b>bold</b> claim.\n")[0] == "text"


def test_main_text_is_kept_and_scripts_styles_navigation_are_not(tmp_path: Path) -> None:
    page = tmp_path / "tides.html"
    page.write_text(PAGE, encoding="utf-8")
    settings = get_settings()
    extraction = extract(inspect(page, settings), settings)
    text = "\n".join(s.text for s in extraction.segments)
    assert extraction.source.title == "Tide Tables & Moons"
    assert extraction.segments[0].text == "Tide Tables & Moons"
    for kept in ("How the moon makes tides", "Spring tides", "sailors call these spring tides",
                 "def tide_height(base):", "Saint-Malo"):  # fmt: skip
        assert kept in text, kept
    for dropped in ("scriptsecret", "zebrafish", "stylesecret", "color: red", "navlinkword",
                    "sidebarword", "footerword", "injected"):  # fmt: skip
        assert dropped not in text, dropped


def test_xhtml_with_an_xml_declaration(tmp_path: Path) -> None:
    page = tmp_path / "chapter.xhtml"
    page.write_text(XHTML, encoding="utf-8")
    settings = get_settings()
    extraction = extract(inspect(page, settings), settings)
    assert extraction.source.title == "Chapter One"
    assert any("dark and stormy night" in s.text for s in extraction.segments)


def test_a_latin1_page_keeps_its_accents(tmp_path: Path) -> None:
    page = tmp_path / "cafe.htm"
    body = "<p>" + "Le café crème de la façade est célèbre. " * 8 + "</p>"
    page.write_bytes(
        f"<html><head><meta charset=ISO-8859-1><title>Café</title></head><body>{body}</body></html>".encode(
            "latin-1"
        )
    )
    settings = get_settings()
    extraction = extract(inspect(page, settings), settings)
    assert extraction.source.title == "Café"
    assert "café crème" in extraction.segments[-1].text


def test_a_page_of_scripts_only_is_empty(tmp_path: Path) -> None:
    page = tmp_path / "app.html"
    page.write_text("<!doctype html><html><head><script>boot()</script></head><body></body></html>")
    settings = get_settings()
    with pytest.raises(EmptyInput) as info:
        extract(inspect(page, settings), settings)
    assert info.value.hint


def test_the_html_size_limit(tmp_path: Path) -> None:
    from pipelines.errors import TooLarge

    page = tmp_path / "big.html"
    page.write_text(PAGE)
    with pytest.raises(TooLarge) as info:
        inspect(page, get_settings(max_bytes_html=100))
    assert "html" in info.value.message and "_HTML" in info.value.hint
