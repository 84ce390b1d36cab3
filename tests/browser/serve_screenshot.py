#!/usr/bin/env python3
"""Real-browser test of `lathe serve`: headless Chromium (Debian's chromium + chromium-driver)
driven by Selenium uploads the bundled example mix with the bundled reference, waits for the
result, checks the A/B player decoded both files, toggles A/B while playing (the switch must
keep the position), and saves a screenshot (tests/data/serve-screenshot.png by default).

Usage: tests/browser/serve_screenshot.py [--lathe target/debug/lathe] [--out PNG]
Needs: apt-get install chromium chromium-driver; pip install selenium.
Exit code 0 when every check passed; 1 with a message otherwise.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fail(msg):
    print(f"serve_screenshot: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lathe", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "lathe"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "serve-screenshot.png"))
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="lathe-browser-")
    server = subprocess.Popen(
        [args.lathe, "serve", "--addr", "127.0.0.1:0", "--data-dir", data],
        stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        m = re.search(r"http://([0-9.]+:[0-9]+)/", line)
        if not m:
            fail(f"no address in {line!r}")
        url = f"http://{m.group(1)}/"

        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     "--window-size=1200,1500", "--autoplay-policy=no-user-gesture-required"]:
            opts.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        try:
            driver.get(url)
            WebDriverWait(driver, 30).until(
                lambda d: len(d.find_elements(By.CSS_SELECTOR, "#genre option")) > 0)
            example = os.path.join(ROOT, "tests", "data", "example")
            driver.find_element(By.ID, "mix").send_keys(os.path.join(example, "mix.flac"))
            driver.find_element(By.ID, "reference").send_keys(os.path.join(example, "reference.flac"))
            driver.find_element(By.CSS_SELECTOR, "input[value=reference]").click()
            driver.find_element(By.ID, "go").click()

            card = WebDriverWait(driver, 30).until(
                lambda d: d.find_element(By.CSS_SELECTOR, "#results .card"))
            WebDriverWait(driver, 300, poll_frequency=0.5).until(
                lambda d: card.get_attribute("data-state") in ("done", "failed"))
            if card.get_attribute("data-state") != "done":
                fail("job failed: " + card.find_element(By.CSS_SELECTOR, ".error").text)
            WebDriverWait(driver, 60).until(
                lambda d: (card.get_attribute("data-player") or "") != "")
            if card.get_attribute("data-player") != "ready":
                fail("A/B player: " + card.get_attribute("data-player"))
            rows = card.find_elements(By.CSS_SELECTOR, ".numbers tbody tr")
            if len(rows) < 6:
                fail(f"{len(rows)} rows of numbers")

            # Play, switch to B, then back to A: the position keeps running across switches.
            card.find_element(By.CSS_SELECTOR, ".play").click()
            time.sleep(1.0)
            pos = lambda: driver.execute_script(
                "return document.querySelector('#results .card').player.now()")
            t0 = pos()
            card.find_element(By.CSS_SELECTOR, ".ab .b").click()
            t1 = pos()
            if card.get_attribute("data-side") != "b":
                fail("B did not become active")
            time.sleep(1.0)
            card.find_element(By.CSS_SELECTOR, ".ab .a").click()
            t2 = pos()
            if not (t0 <= t1 <= t2 and t2 - t0 > 0.5):
                fail(f"position did not run on across the switches: {t0:.2f} {t1:.2f} {t2:.2f}")
            card.find_element(By.CSS_SELECTOR, ".ab .b").click()
            card.find_element(By.CSS_SELECTOR, ".play").click()  # pause, so the picture holds
            driver.execute_script("document.querySelector('#results .card details').open = true")
            time.sleep(1.5)
            driver.save_screenshot(args.out)
            print(f"serve_screenshot: ok: job done, A/B toggled at {t0:.2f}/{t1:.2f}/{t2:.2f} s, "
                  f"screenshot {args.out}")
        finally:
            driver.quit()
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
