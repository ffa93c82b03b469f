"""Reading admin pages: the changelist's cells, a table's rows, the messages shown."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class _Cells(HTMLParser):
    """The text of every ``td``/``th`` of each ``tr``, keyed by its ``field-…`` class or its position."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self._cell: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append({})
        elif tag in ("td", "th") and self.rows:
            classes = (dict(attrs).get("class") or "").split()
            fields = [c.removeprefix("field-") for c in classes if c.startswith("field-")]
            self._cell = fields[0] if fields else str(len(self.rows[-1]))
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1][self._cell] = " ".join("".join(self._text).split())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)


def rows_of(html: str, marker: str) -> list[dict[str, str]]:
    """The rows of the first table after ``marker`` in ``html`` (header rows included)."""
    start = html.index(marker)
    parser = _Cells()
    parser.feed(html[start : html.index("</table>", start)])
    return [row for row in parser.rows if row]


def changelist_rows(response: Any) -> dict[str, dict[str, str]]:
    """The changelist's result rows by the text of their ``issuer`` cell (none without a result table)."""
    html = response.content.decode()
    if 'id="result_list"' not in html:
        return {}
    rows = rows_of(html, 'id="result_list"')
    return {row["issuer"]: row for row in rows if "issuer" in row}


def messages_of(response: Any) -> list[tuple[str, str]]:
    """The messages of a followed response, as (level tag, text)."""
    return [(message.level_tag, str(message)) for message in response.context["messages"]]
