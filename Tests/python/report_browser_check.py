#!/usr/bin/env python3
"""Loads a run's record.html in Chromium (driven by Playwright) and checks that it renders cleanly.

Usage: report_browser_check.py PAGE SCREENSHOT [--dark]
  PAGE        the record.html to load (as a file:// URL)
  SCREENSHOT  where to save a full-page PNG
  --dark      emulate prefers-color-scheme: dark

Fails (exit 1, reasons on stderr) on any console error, page error or failed request, on any request that
leaves the page's folder (the page must be self-contained), when no step cell is rendered, or when a token
chart is missing, hidden or empty. Prints `RESULT {json}` with what it saw. Uses the system Chromium
(/usr/bin/chromium, or $SOUS_CHROMIUM); nothing is downloaded.
"""
import json
import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    page_path, shot = Path(args[0]).resolve(), args[1]
    dark = "--dark" in sys.argv
    problems = []
    requests = []
    chromium = os.environ.get("SOUS_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            context = browser.new_context(
                viewport={"width": 1100, "height": 900}, color_scheme="dark" if dark else "light"
            )
            page = context.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri(), wait_until="load")

            folder = page_path.parent.as_uri() + "/"
            for url in requests:
                if not url.startswith(folder) and not url.startswith("data:"):
                    problems.append(f"the page requested {url} (only its own file may load)")

            cells = page.locator("section.cell")
            if cells.count() == 0:
                problems.append("no step cell was rendered")
            steps = []
            for i in range(cells.count()):
                cell = cells.nth(i)
                box = cell.bounding_box()
                if not cell.is_visible() or not box or box["height"] < 10:
                    problems.append(f"step cell {i + 1} is not visible")
                steps.append({"step": cell.get_attribute("data-step"), "status": cell.get_attribute("data-status")})

            charts = page.locator("svg.tokens")
            marks = []
            for i in range(charts.count()):
                chart = charts.nth(i)
                box = chart.bounding_box()
                if not chart.is_visible() or not box or box["width"] < 100 or box["height"] < 50:
                    problems.append(f"token chart {i + 1} is not visible (box {box})")
                n = chart.locator("circle.tok").count()
                marks.append(n)
                if n == 0:
                    problems.append(f"token chart {i + 1} has no token mark")
                first = chart.locator("circle.tok").first.bounding_box() if n else None
                if n and (not first or first["width"] <= 0):
                    problems.append(f"token chart {i + 1}: the marks are not drawn")

            ttft = [t.strip() for t in page.locator("[data-stat=ttft]").all_inner_texts()]
            status = page.locator("#run-status").inner_text().strip() if page.locator("#run-status").count() else None
            overflow = page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth + 1")
            if overflow:
                problems.append("the page scrolls sideways at 1100 px")
            page.screenshot(path=shot, full_page=True)
        finally:
            browser.close()

    print("RESULT " + json.dumps({"steps": steps, "charts": len(marks), "marks": marks, "ttft": ttft, "status": status,
                                  "requests": requests, "problems": problems}))
    for p in problems:
        print("problem: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
