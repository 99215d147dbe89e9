"""Screenshot of the offline human-test page for chapter 4 (needs Debian's chromium + chromedriver and the
cpu evaluation results): FACEOBF_DATA=... python book/figures/make_human_test_page.py"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from PIL import Image, ImageChops

from faceobf.data import CelebA
from faceobf.evaluate.human_test import write_human_test
from faceobf.evaluate.protocol import human_test_material
from faceobf.profiles import get_profile


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    sheets, images, machine = human_test_material(get_profile("cpu"), CelebA.open(), "onehot", "flip4", 3, seed=5, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_human_test(Path(tmp) / "test", sheets, images, "flip4", "U-Net, seed's 4 flips", machine)
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--window-size=1040,1200",
                     f"--user-data-dir={Path(tmp) / 'profile'}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            driver.get(paths["page"].resolve().as_uri())
            faces = driver.find_elements("css selector", "#grid img.face")
            faces[1].click()  # one face picked, as an assessor mid-decision
            out = Path(__file__).with_name("human_test_page.jpg")
            shot = Path(tmp) / "page.png"
            driver.save_screenshot(str(shot))
            page = Image.open(shot).convert("RGB")
            content = ImageChops.difference(page, Image.new("RGB", page.size, "white")).getbbox()
            page.crop((0, 0, page.width, min(page.height, content[3] + 16))).save(out, quality=85)  # no empty margin below
            print(f"wrote {out}")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
