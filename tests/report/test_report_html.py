import math

import pytest

from sail_core.report.html import Html, element, join, number, table


def test_text_is_escaped_and_markup_passes_through():
    page = element("p", "<b>bold</b> & co", Html("<i>kept</i>"), class_='x" onclick="y')
    assert page == (
        '<p class="x&quot; onclick=&quot;y">&lt;b&gt;bold&lt;/b&gt; &amp; co<i>kept</i></p>'
    )


def test_attributes_follow_html_names_and_booleans():
    box = element("input", type="search", data_list="a", aria_label="filter", hidden=True)
    assert box == '<input type="search" data-list="a" aria-label="filter" hidden>'
    assert element("option", "x", selected=False, title=None) == "<option>x</option>"


def test_void_elements_take_no_children():
    with pytest.raises(ValueError, match="<img> cannot have children"):
        element("img", "child")


def test_nested_children_are_flattened_and_none_skipped():
    assert join("a", ["<", None, ["b"]]) == "a&lt;b"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (math.nan, "—"),
        (12345, "12,345"),
        (0.123456, "0.123"),
        (1.0, "1"),
        (12345.6, "12,346"),
        (True, "True"),
        ("ct", "ct"),
    ],
)
def test_numbers_are_readable(value, text):
    assert number(value) == text


def test_table_formats_numbers_and_escapes_text():
    html = table(["<h>"], [[0.5], ["<td>"], [None]], row_classes=["selected", None, None])
    assert "<th>&lt;h&gt;</th>" in html
    assert '<tr class="selected"><td class="num">0.5</td></tr>' in html
    assert "<td>&lt;td&gt;</td>" in html
    assert "<td>—</td>" in html
