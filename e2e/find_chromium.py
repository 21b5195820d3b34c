"""Find the Chromium the browser tests use, or fail loudly: they are never skipped silently.

Debian's /usr/bin/chromium first (these machines cannot download Playwright's browser), then
PORTAL_CHROMIUM, then Playwright's own download where one exists."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def find_chromium() -> str | None:
    candidates = [os.environ.get("PORTAL_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            path = p.chromium.executable_path
        return path if Path(path).is_file() else None
    except Exception:
        return None


if __name__ == "__main__":
    found = find_chromium()
    if not found:
        sys.exit(
            "No Chromium for the browser tests. Install Debian's with `make deps` as root "
            "(e2e/system-packages prints the apt-get command otherwise), "
            "or set PORTAL_CHROMIUM to a Chromium binary."
        )
    print(f"browser tests use {found}")
