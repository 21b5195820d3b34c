"""Find the Chromium the browser tests use, or fail loudly: they are never skipped silently.

Debian's /usr/bin/chromium first (these machines cannot download Playwright's browser), then
PORTAL_CHROMIUM, then Playwright's own download where one exists (portal/testing/browser.py)."""

from __future__ import annotations

import sys

from portal.testing.browser import find_chromium

__all__ = ["find_chromium"]

if __name__ == "__main__":
    found = find_chromium()
    if not found:
        sys.exit(
            "No Chromium for the browser tests. Install Debian's with `make deps` as root "
            "(e2e/system-packages prints the apt-get command otherwise), "
            "or set PORTAL_CHROMIUM to a Chromium binary."
        )
    print(f"browser tests use {found}")
