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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_evaluate_human_test_browser import launch_chromium, write_test_page  # noqa: E402  (the test's browser and page)


def one_trial(pause: float, settle: float) -> tuple[bool, bool]:
    """Answer sheet 1 in a freshly started browser and reload after `pause` s; after a loss, answer and reload again.

    Returns (the first answer was lost, the second was lost too).
    """
    from selenium.webdriver.common.by import By

    tmp = Path(tempfile.mkdtemp())
    driver = launch_chromium(tmp)
    try:
        sheets, paths = write_test_page(tmp / "test", "query")
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
