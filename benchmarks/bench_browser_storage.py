"""How often headless Chromium on a fresh profile drops the human-test page's first saved answer.

Each trial starts the browser the way `tests/test_evaluate_human_test_browser.py` does, answers sheet 1,
checks that the page stored its progress, waits `--pause` seconds, reloads, and counts a loss when
the page comes back at sheet 1. After a loss it answers again on the reloaded page and reloads once
more, as the test's retry does, and counts how often that answer is lost too.

    python benchmarks/bench_browser_storage.py [--trials 25] [--pause 0] [--settle 0]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_evaluate_human_test_browser import FLAGS  # noqa: E402  (one list of browser flags)

from faceobf.evaluate.human_test import write_human_test  # noqa: E402
from faceobf.evaluate.sheets import make_sheets  # noqa: E402


def one_trial(pause: float, settle: float) -> tuple[bool, bool]:
    """Answer sheet 1 in a freshly started browser and reload after `pause` s; after a loss, answer and reload again.

    Returns (the first answer was lost, the second was lost too).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    tmp = Path(tempfile.mkdtemp())
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp / 'profile'}")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        sheets = make_sheets(np.arange(60), np.repeat(np.arange(12), 5), 3, seed=0, form="query")
        images = [[np.full((40, 40, 3), (25 * k, 100, 200 - 15 * k), np.uint8) for k in range(10)] for _ in sheets]
        paths = write_human_test(tmp / "test", sheets, images, "blur_s8", "blur")
        time.sleep(settle)
        driver.get(paths["page"].resolve().as_uri())

        def answer_and_reload() -> bool:
            for position in sheets[0].match:
                driver.find_element(By.CSS_SELECTOR, f'#grid img.face[data-index="{position}"]').click()
            driver.find_element(By.ID, "confirm").click()
            assert driver.execute_script("return localStorage.length") == 1, "the page did not store its progress"
            time.sleep(pause)
            driver.refresh()
            return driver.find_element(By.ID, "progress").text == "Sheet 1 of 3"

        lost = answer_and_reload()
        return lost, lost and answer_and_reload()
    finally:
        driver.quit()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=25)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between the answer and the reload")
    parser.add_argument("--settle", type=float, default=0.0, help="seconds between the browser's start and the page")
    args = parser.parse_args()
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        sys.exit("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    trials = [one_trial(args.pause, args.settle) for _ in range(args.trials)]
    lost, lost_again = sum(first for first, _ in trials), sum(again for _, again in trials)
    print(f"first answer lost on reload: {lost} of {args.trials} (pause {args.pause} s, settle {args.settle} s)")
    print(f"answered again after a loss and lost again: {lost_again} of {lost}")


if __name__ == "__main__":
    main()
