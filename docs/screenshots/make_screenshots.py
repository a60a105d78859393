"""Screenshots of the charts for the docs: the grid, a lead's score over time, calibration, conversion.

    .venv/bin/python docs/screenshots/make_screenshots.py [--leads 5000] [--port 8105] [--keep]
                                                         [--database demo.sqlite3]

Seeds a fresh demo database (SQLite in a temporary folder, `manage.py migrate` and `seed_demo`,
as `make demo` does), serves it with `manage.py runserver` (DEBUG=1, as `make serve`; no worker:
the pages shown need none), drives Debian's Chromium (/usr/bin/chromium) through Playwright,
logs in as the manager and writes docs/screenshots/*.png at 1280 px wide. It also reports the
width of each page, which must fit a 1,440 px window. Nothing outside the temporary folder and
docs/screenshots/ is written; the server is stopped at the end (`--keep` leaves the folder).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "demo-pass-2026"  # leadscoring.roles.DEMO_PASSWORD
WIDTH = 1280


def run(args: list[str], env: dict) -> None:
    print("$", " ".join(args), flush=True)
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the demo server did not answer at {url}")


def pick_lead(env: dict) -> int:
    """A lead whose new-business score changed most often over the whole seeded history, ups and
    downs (the chart's subject); the first such lead by id, so a seed gives the same lead."""
    code = (
        "from datetime import timedelta\n"
        "from django.db.models import Count, Min\n"
        "from django.utils import timezone\n"
        "from leads.models import ScoreHistory\n"
        "rows = (ScoreHistory.objects.filter(scoring_model__slug='new-business', previous_tier__gt='')"
        ".values('lead_id').annotate(n=Count('id'), first=Min('as_of'))"
        ".filter(first__lte=timezone.now() - timedelta(days=70)).order_by('-n', 'lead_id'))\n"
        "print(rows[0]['lead_id'])\n"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True, capture_output=True
    )
    return int(out.stdout.decode().split()[-1])


def shoot(page, url: str, path: Path, selector: str | None = None) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    note = "" if width <= 1440 else "  <-- wider than a 1,440 px window"
    if selector:
        page.locator(selector).first.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path.relative_to(ROOT)} (page {width} px wide){note}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=5000, help="demo leads to seed (default 5000, as make demo)")
    parser.add_argument("--port", type=int, default=8105)
    parser.add_argument("--keep", action="store_true", help="keep the temporary database folder")
    parser.add_argument("--database", type=Path, help="serve this seeded SQLite file instead of seeding one")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"needs Debian's Chromium at {CHROMIUM}")

    folder = Path(tempfile.mkdtemp(prefix="lsw-screenshots-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{(args.database or folder / 'demo.sqlite3').resolve()}",
        "DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    server = None
    try:
        if args.database is None:
            run(["migrate", "--no-input", "-v", "0"], env)
            run(["seed_demo", "--leads", str(args.leads)], env)
        lead = pick_lead(env)
        base = f"http://127.0.0.1:{args.port}"
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{args.port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(f"{base}/accounts/login/")

        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            context = browser.new_context(viewport={"width": WIDTH, "height": 900}, locale="en-US", timezone_id="UTC")
            page = context.new_page()
            page.goto(f"{base}/accounts/login/")
            page.get_by_label("Username").fill("manager")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{base}/")

            shoot(page, f"{base}/leads/grid/?model=new-business", OUT / "grid.png", "main")
            shoot(page, f"{base}/leads/{lead}/?model=new-business", OUT / "score-chart.png", "section.history")
            shoot(page, f"{base}/reports/calibration/?model=new-business", OUT / "calibration.png")
            shoot(page, f"{base}/reports/conversion/?model=new-business", OUT / "conversion.png")
            browser.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
