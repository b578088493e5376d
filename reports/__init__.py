"""Daily and weekly briefings (舆情日报 / 周报): figures from the store and the alert record, an HTML page with
its charts drawn here as SVG, and a PDF printed from it by headless Chromium."""
