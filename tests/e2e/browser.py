"""A real browser for the console's tests: Debian's chromium, driven by Selenium through
Debian's chromedriver (nothing downloaded), and the console as a child process."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from arq_batch.cli.demo_console import start_console

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


def chromium(profile: Path) -> webdriver.Chrome:
    """Headless chromium with the flags this machine's closed network needs."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        raise AssertionError("chromium and chromedriver are missing: run "
                             "tests/browser/chromium-setup.sh (make test does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                 f"--user-data-dir={profile}", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    return driver


def script_errors(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """Console errors the page logged since the last call (JavaScript errors among them)."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """The page as docs/console.md shows it: its whole height (up to 2,400 px)."""
    width, height = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": min(height, 2400), "scale": 1}})
    path = SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


class ConsoleProcess:
    """``arq-batch console`` on a free loopback port, with a token, its output in a file."""

    def __init__(self, token: str, log: Path) -> None:
        self._log = open(log, "w")  # noqa: SIM115 - closed in stop()
        try:
            self.process, self.url = start_console(token, output=self._log)
        except RuntimeError as exc:
            self._log.close()
            raise AssertionError(f"{exc}:\n{log.read_text()}") from exc

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)
        self._log.close()
