"""The browser check itself sees what a bad page does: requests and console errors."""

import pytest

from tests.support.browser import CHROMIUM, pixel_spread, visit

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(.ci/run installs Debian's chromium)")


def test_a_page_that_reaches_the_network_and_throws_is_seen(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="stylesheet" '
                    'href="https://fonts.example.com/font.css"></head><body>'
                    '<script>undefinedFunction()</script><p>text</p></body></html>')
    shown = visit(page)
    assert "https://fonts.example.com/font.css" in shown.requests
    assert any("undefinedFunction" in error for error in shown.console_errors)


def test_a_blank_page_has_no_pixel_spread(tmp_path):
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body></body></html>")
    shown = visit(page)
    assert shown.requests == [page.resolve().as_uri()] and shown.console_errors == []
    assert pixel_spread(shown.screenshot) < 1
