"""A real headless Chromium for the console's browser tests, driven with selenium.

Debian's ``chromium`` and ``chromium-driver`` are used by their paths (no Selenium Manager, no
download). When they are missing the tests skip saying so, unless
``MEDIAGATE_REQUIRE_SYSTEM_TESTS=1`` (CI sets it after installing them), when they fail.

Selenium's calls block, and the gateway under test runs on the test's event loop, so every
call goes through :func:`asyncio.to_thread` (:class:`Browser`).
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REQUIRE_ENV = "MEDIAGATE_REQUIRE_SYSTEM_TESTS"
SCREENSHOTS_ENV = "MEDIAGATE_SCREENSHOTS"
WINDOW = (1280, 1000)


def _missing(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1, so this fails instead of skipping)")
    pytest.skip(f"{reason}; install Debian's chromium and chromium-driver to run it")


def start_driver() -> Any:
    """A headless Chromium under chromedriver, or skip/fail naming what is missing."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists() and not shutil.which(path.name):
            _missing(f"browser test needs {path} (not found)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("browser test needs selenium (the [test] extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium"))
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--lang=zh-CN",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = CHROMEDRIVER if CHROMEDRIVER.exists() else Path(str(shutil.which("chromedriver")))
    service = Service(executable_path=str(driver_path))
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except Exception as exc:
        _missing(f"Chromium did not start: {type(exc).__name__}: {str(exc)[:300]}")
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    driver = start_driver()
    try:
        yield driver
    finally:
        driver.quit()


def png(width: int = 360, height: int = 200, rgb: tuple[int, int, int] = (16, 95, 179)) -> bytes:
    """A real PNG of one colour with a lighter band (a cover image for the WeChat view)."""
    rows = []
    for y in range(height):
        colour = rgb if not (height // 3 < y < height // 2) else (230, 240, 250)
        rows.append(b"\x00" + bytes(colour) * width)
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


class Browser:
    """The blocking selenium driver, called from async tests without blocking the loop."""

    def __init__(self, driver: Any, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url.rstrip("/")

    async def call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def open(self, path: str) -> None:
        await self.call(self.driver.get, self.base_url + path)

    async def find(self, testid: str) -> Any:
        from selenium.webdriver.common.by import By

        return await self.call(
            self.driver.find_element, By.CSS_SELECTOR, f'[data-testid="{testid}"]'
        )

    async def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        found: list[Any] = await self.call(self.driver.find_elements, By.CSS_SELECTOR, css)
        return found

    async def texts(self, css: str) -> list[str]:
        """The text of every element matching ``css`` (as rendered)."""
        found = await self.js(
            "return Array.from(document.querySelectorAll(arguments[0])).map((e) => e.innerText)",
            css,
        )
        return [str(t) for t in found]

    async def fill_css(self, css: str, text: str) -> None:
        from selenium.webdriver.common.by import By

        element = await self.call(self.driver.find_element, By.CSS_SELECTOR, css)
        await self.call(element.send_keys, text)

    async def follow_css(self, css: str, timeout_s: float = 30.0) -> None:
        """Click the element at ``css`` and wait for the next page."""
        from selenium.webdriver.common.by import By

        old = await self.call(self.driver.find_element, By.TAG_NAME, "html")
        element = await self.call(self.driver.find_element, By.CSS_SELECTOR, css)
        await self.call(element.click)
        await self._replaced(old, timeout_s)

    async def click(self, testid: str) -> None:
        element = await self.find(testid)
        await self.call(element.click)

    async def follow(self, testid: str, timeout_s: float = 30.0) -> None:
        """Click a link or submit button and wait until the next page has replaced this one."""
        from selenium.webdriver.common.by import By

        old = await self.call(self.driver.find_element, By.TAG_NAME, "html")
        await self.click(testid)
        await self._replaced(old, timeout_s)

    async def _replaced(self, old: Any, timeout_s: float) -> None:
        """Wait until ``old`` (the previous page's root) is gone. Chromium sometimes reports a
        node of a replaced document as an inspector error ("Node with given id does not belong
        to the document") instead of a stale element; both mean the page was replaced."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        def gone(_driver: Any) -> bool:
            try:
                old.is_enabled()
            except WebDriverException:
                return True
            return False

        await self.call(WebDriverWait(self.driver, timeout_s).until, gone)
        await self.wait_for("body")

    async def type(self, testid: str, text: str) -> None:
        element = await self.find(testid)
        await self.call(element.clear)
        await self.call(element.send_keys, text)

    async def text(self, testid: str) -> str:
        element = await self.find(testid)
        value: str = await self.call(lambda: element.text)
        return value

    async def js(self, script: str, *args: Any) -> Any:
        return await self.call(self.driver.execute_script, script, *args)

    async def path(self) -> str:
        url: str = await self.call(lambda: self.driver.current_url)
        return url[len(self.base_url) :] if url.startswith(self.base_url) else url

    async def wait_for(self, css: str, timeout_s: float = 30.0) -> list[Any]:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            found = await self.find_all(css)
            if found:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"nothing matched {css!r} within {timeout_s} s")
            await asyncio.sleep(0.2)

    async def alert_text(self) -> str | None:
        """The text of an open alert/confirm/prompt dialog, or None."""
        from selenium.common.exceptions import NoAlertPresentException

        def probe() -> str | None:
            try:
                return str(self.driver.switch_to.alert.text)
            except NoAlertPresentException:
                return None

        result: str | None = await self.call(probe)
        return result

    async def login(self, key: str) -> None:
        await self.call(self.driver.delete_all_cookies)
        await self.open("/console/login")
        await self.type("key", key)
        await self.follow("login")
        await self.wait_for('[data-testid="whoami"]')

    async def logout(self) -> None:
        await self.follow("logout")
        await self.wait_for('[data-testid="login"]')

    async def screenshot(self, name: str, *, height: int | None = None) -> None:
        """Save docs/console/<name>.png when MEDIAGATE_SCREENSHOTS names a directory."""
        target = os.environ.get(SCREENSHOTS_ENV)
        if not target:
            return
        folder = Path(target)
        await self.call(lambda: folder.mkdir(parents=True, exist_ok=True))

        def capture() -> None:
            # the whole page, not just the window (Chromium's DevTools protocol)
            size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            clip = {
                "x": 0,
                "y": 0,
                "width": WINDOW[0],
                "height": min(max(size["height"], WINDOW[1]), height or 2400),
                "scale": 1,
            }
            shot = self.driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True, "clip": clip},
            )
            (folder / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))

        await self.call(capture)
