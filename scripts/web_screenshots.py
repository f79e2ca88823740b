"""Screenshots of every screen of the web app, for docs/screenshots/ (and the README).

Builds a small library from the shared corpus (``../shared/corpus``) on a throw-away server,
starts ``photoark web``, and drives Debian's chromium through the playwright package:

    python3 scripts/web_screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import Page, sync_playwright  # noqa: E402
from tests.builders import CHROMIUM, CHROMIUM_ARGS, CORPUS, Client, running_server  # noqa: E402

FOLDERS = ("lychee-samples", "photoprism", "neardup-threatexchange-pdq", "neardup-imagehash-php")


def _shoot(page: Page, out: Path, name: str, path: str, ready: str, base: str) -> None:
    page.goto(base + path)
    page.wait_for_selector(ready, timeout=120_000)
    time.sleep(1.0)  # thumbnails fade in
    page.screenshot(path=str(out / f"{name}.png"))
    print(f"wrote {out / name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name, running_server(Path(tmp_name)) as server:
        tmp = Path(tmp_name)
        client = Client(tmp / "home", server.url)
        client.signup()
        photos = tmp / "Pictures"
        for folder in FOLDERS:
            shutil.copytree(CORPUS / folder, photos / folder)
            client.run("backup", str(photos / folder), "--album", folder.split("-")[-1].title())
        doomed = [f["id"] for f in client.json("ls", "Samples")[:3]]
        client.run("delete", *map(str, doomed))
        env = {**os.environ, "PHOTOARK_HOME": str(client.home), "XDG_DATA_HOME": str(tmp / "xdg")}
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "photoark.cli.main",
                "web",
                "--no-open",
                "--port",
                "0",
                "--json",
            ],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        try:
            assert web.stdout is not None
            url = json.loads(web.stdout.readline())["url"]
            base = url.split("/login")[0]
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(url)
                _shoot(page, args.out, "timeline", "/", "[data-photo-id] img.loaded", base)
                _shoot(page, args.out, "albums", "/albums", ".album img.loaded", base)
                first = page.locator("[data-photo-id]").first.get_attribute("data-photo-id")
                _shoot(page, args.out, "photo", f"/photos/{first}", "#media", base)
                _shoot(page, args.out, "duplicates", "/duplicates", "[data-group]", base)
                _shoot(page, args.out, "similar", "/similar", "[data-group]", base)
                page.locator('[data-group] [data-action="compare"]').first.click()
                page.wait_for_selector("#compare .pane img")
                time.sleep(1.0)
                pane = page.locator("#compare .pane").first.bounding_box()
                assert pane is not None
                page.mouse.move(pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2)
                for _ in range(4):
                    page.mouse.wheel(0, -120)
                time.sleep(0.5)
                page.screenshot(path=str(args.out / "compare.png"))
                print(f"wrote {args.out / 'compare.png'}")
                page.goto(base + "/free-up-space")
                page.fill("#folder", str(photos / "photoprism"))
                page.click('[data-action="scan"]')
                page.wait_for_selector("#freeup-summary", timeout=120_000)
                time.sleep(0.5)
                page.screenshot(path=str(args.out / "free-up-space.png"))
                print(f"wrote {args.out / 'free-up-space.png'}")
                _shoot(page, args.out, "trash", "/trash", "[data-trash-id]", base)
                _shoot(page, args.out, "status", "/status", "#daemon", base)
                browser.close()
        finally:
            web.terminate()
            web.wait(10)


if __name__ == "__main__":
    main()
