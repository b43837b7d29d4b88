"""The browser rig skips when Chromium is missing, and fails instead under
MEDIAGATE_REQUIRE_SYSTEM_TESTS=1 (tests/console/browser.py); the cookie's Secure flag follows
TLS."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from tests.console import browser


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setattr(browser.shutil, "which", lambda _name: None)


def test_missing_chromium_skips_saying_why(
    no_chromium: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(browser.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium"):
        browser.start_driver()


def test_missing_chromium_fails_when_system_tests_are_required(
    no_chromium: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(browser.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="MEDIAGATE_REQUIRE_SYSTEM_TESTS=1"):
        browser.start_driver()


@pytest.mark.parametrize(("scheme", "secure"), [("http", False), ("https", True)])
def test_session_cookie_is_secure_exactly_under_tls(scheme: str, secure: bool) -> None:
    from gateway.console.login import _cookie_flags

    request = make_mocked_request("GET", "/console/login").clone(scheme=scheme)
    flags = _cookie_flags(request)
    assert flags == {"path": "/console/", "httponly": True, "samesite": "Strict", "secure": secure}


def test_the_png_helper_makes_a_real_png() -> None:
    data = browser.png(8, 4)
    assert (
        data.startswith(b"\x89PNG\r\n\x1a\n")
        and b"IHDR" in data
        and data.endswith(b"IEND\xaeB`\x82")
    )
