"""HTML from a feed -> plain text, with a real HTML parser (never regular expressions).

Feeds put HTML in free-text fields (Bristol's ``<h1>About Us</h1><p>...``). We
store plain text, so pages escape it like any other text and nothing a feed
writes can become markup on our site. Paragraphs and headings become lines
separated by a blank line, list items become "- " lines, links keep only their
words (the address of a link is not text a reader sees), entities are decoded,
and script / style contents are dropped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = frozenset(
    {"p", "div", "section", "article", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "tr", "blockquote", "header", "footer"}
)
_DROPPED = frozenset({"script", "style", "noscript", "template", "head", "title"})
_LOOKS_LIKE_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?\s*>|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._dropped = 0

    def _break(self, blank: bool) -> None:
        self.parts.append("\n\n" if blank else "\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self._dropped += 1
        elif tag in _BLOCKS:
            self._break(blank=True)
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "br":
            self._break(blank=False)
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._break(blank=False)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self._dropped = max(0, self._dropped - 1)
        elif tag in _BLOCKS:
            self._break(blank=True)

    def handle_data(self, data: str) -> None:
        if not self._dropped:
            self.parts.append(data)


def looks_like_html(text: str) -> bool:
    return bool(_LOOKS_LIKE_HTML.search(text))


def html_to_text(text: str | None) -> str:
    """Plain text of a feed's text field; text without markup is only tidied."""
    if not text:
        return ""
    if looks_like_html(text):
        collector = _TextCollector()
        collector.feed(text)
        collector.close()
        text = "".join(collector.parts)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    lines = [re.sub(r"[ \t\f\v]+", " ", line).strip() for line in text.split("\n")]
    squashed = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", squashed).strip()
