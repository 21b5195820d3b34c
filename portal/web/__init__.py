"""Public pages: home, accessibility statement, privacy notice, display settings, language."""
