"""Debian's chromium, headless, driven by Playwright: a person logged in to Airflow through its login page.

Nothing is downloaded: Playwright's own browsers are never installed; the browser is the system's,
started with a fresh profile and without any background networking.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import FrameLocator, Page

    from tests.integration.console.server import ConsoleServer

CHROMIUM = Path(os.environ.get("BUGZILLA_PUSH_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "console"
TIMEOUT_MS = 60_000  # a loaded 2-core machine; Playwright waits for conditions, never this long in vain


def require_chromium() -> None:
    """Fail (never skip) when the browser is missing, saying how to get it."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"the push console's browser test needs Debian's chromium at {CHROMIUM}, which is missing: run "
            "`scripts/browser install` as root (make up does), or `apt-get install chromium`",
            pytrace=False,
        )


@dataclass
class Session:
    """A logged-in page, and the problems the browser reported while the test used it.

    :param artifacts: where screenshots go
    :param errors: uncaught exceptions and Content-Security-Policy violations, from any frame
    """

    page: Page
    server: ConsoleServer
    artifacts: Path
    errors: list[str] = field(default_factory=list)

    def open_console(self, from_navigation: bool = True) -> FrameLocator | Page:
        """Open the console from Airflow's navigation (or at its own URL); return its frame (or the
        page) once the overview is shown.

        Airflow's navigation lists plugins only to accounts that may read them: under FAB, Admin and
        Op, not Viewer or User, who open the console at /bugzilla-push/ instead.
        """
        if not from_navigation:
            self.page.goto(f"{self.server.console}/")
            self.page.locator("body[data-loaded=overview]").wait_for()
            return self.page
        self.page.get_by_role("link", name="Bugzilla push").click()
        self.page.wait_for_url("**/plugin/bugzilla-push**")
        frame = self.page.frame_locator('iframe[title="Bugzilla push"]')
        frame.locator("body[data-loaded=overview]").wait_for()
        return frame

    def screenshot(self, name: str) -> Path:
        """Save the whole page as NAME.png in the artifacts folder."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def logged_in(
    server: ConsoleServer, user: str, profile: Path, artifacts: Path | None = None
) -> Iterator[Session]:
    """Start chromium with a fresh profile and log in through Airflow's own login page (the auth
    manager's: SimpleAuthManager's or FAB's). Screenshots go to `artifacts`, by default
    test-artifacts/console/, and its fab/ folder under the FAB auth manager."""
    if artifacts is None:
        artifacts = ARTIFACTS if server.auth_manager == "simple" else ARTIFACTS / server.auth_manager
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": 1440, "height": 1500},
        )
        try:
            context.set_default_timeout(TIMEOUT_MS)
            page = context.pages[0] if context.pages else context.new_page()
            session = Session(page, server, artifacts)
            page.goto(f"{server.url}/")
            page.get_by_label("Username").fill(user)
            page.get_by_label("Password").fill(server.passwords[user])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{server.url}/")
            # From here on: FAB's login page has a script error of its own ("reading 'tz'").
            page.on("pageerror", lambda exc: session.errors.append(f"uncaught on {page.url}: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    session.errors.append(msg.text) if "Content Security Policy" in msg.text else None
                ),
            )
            yield session
            assert session.errors == [], session.errors
        finally:
            context.close()
