"""Building HTML with escaping by default.

Every value that is not already `Html` is passed through `html.escape` when it is inserted, so
text that came from a language model or from scan metadata can never inject markup.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable

VOID_ELEMENTS = frozenset({"img", "input", "meta", "br", "hr", "link"})
NOT_AVAILABLE = "—"


class Html(str):
    """Markup that is safe to insert as it is."""


def escape(value: object) -> Html:
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=True))


def _attributes(attributes: dict[str, object]) -> str:
    """`class_` -> class, `data_list` -> data-list; None and False leave the attribute out."""
    parts = []
    for key, value in attributes.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(f" {name}" if value is True else f' {name}="{escape(value)}"')
    return "".join(parts)


def _flatten(children: Iterable) -> Iterable:
    for child in children:
        if child is None:
            continue
        if isinstance(child, str) or not isinstance(child, Iterable):
            yield child
        else:
            yield from _flatten(child)


def element(name: str, /, *children, **attributes) -> Html:
    """`<name attributes>children</name>`; children may be nested lists, None is skipped."""
    if name in VOID_ELEMENTS:
        if children:
            raise ValueError(f"<{name}> cannot have children")
        return Html(f"<{name}{_attributes(attributes)}>")
    body = "".join(escape(child) for child in _flatten(children))
    return Html(f"<{name}{_attributes(attributes)}>{body}</{name}>")


def join(*parts) -> Html:
    return Html("".join(escape(part) for part in _flatten(parts)))


def number(value: object, digits: int = 3) -> str:
    """A readable number: integers as they are, floats to `digits` significant digits (large
    ones without decimals); None and NaN as a dash."""
    if value is None or isinstance(value, bool):
        return NOT_AVAILABLE if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return NOT_AVAILABLE
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def table(header: list, rows: list[list], *, classes: str = "grid", row_classes=None) -> Html:
    """A table; numbers in cells are formatted with `number`, other cells escaped."""
    head = element("thead", element("tr", [element("th", h) for h in header]))
    body = []
    for position, row in enumerate(rows):
        cells = [
            element("td", number(cell), class_="num")
            if isinstance(cell, int | float) and not isinstance(cell, bool)
            else element("td", NOT_AVAILABLE if cell is None else cell)
            for cell in row
        ]
        row_class = row_classes[position] if row_classes else None
        body.append(element("tr", cells, class_=row_class or None))
    return element("table", head, element("tbody", body), class_=classes)


def unavailable(what: str, reason: str) -> Html:
    return element("p", element("strong", what), f" not available: {reason}", class_="missing")


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def image(png: bytes, alt: str, **attributes) -> Html:
    return element("img", src=png_data_uri(png), alt=alt, **attributes)
