"""Real-browser tests (headless Chromium via Playwright)."""
