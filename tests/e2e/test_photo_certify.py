"""A photo certified in a real browser (Debian Chromium + Playwright), against `streamlit run`:
upload a JPEG, pick the photo model (Images: Photos (ImageNet, denoised)), certify at small n
and read an ImageNet class name and a radius with its kind. One photo, n0 = 2, n = 12: about
15 denoised samples (tens of seconds on a loaded 2-core CPU)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from browser_helpers import BROWSER_TEST, full_screenshot

pytestmark = BROWSER_TEST

#: A bundled ImageNet-class photo (assets/images/imagenet, from the foolbox wheel): a bottlecap.
PHOTO = Path(__file__).resolve().parents[2] / "assets" / "images" / "imagenet" / "imagenet_09_455.jpg"


def test_upload_a_photo_and_certify_it_with_the_photo_model(page, tmp_path):
    from playwright.sync_api import expect

    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Certify").click()
    page.get_by_role("button", name="Certify", exact=True).wait_for(timeout=30_000)
    page.get_by_test_id("stRadio").filter(has_text="Images").get_by_text(
        "Photos (ImageNet, denoised)", exact=True).click()
    expect(page.get_by_role("combobox", name="Model")).to_have_value(
        re.compile("imagenet-denoised-0.25"), timeout=30_000)
    expect(page.get_by_role("spinbutton", name="n (estimation samples)")).to_have_value("100")
    expect(page.get_by_role("spinbutton", name="n0 (selection samples)")).to_have_value("16")
    expect(page.get_by_text("pixel units of the 224×224 image the classifier receives")
           ).to_be_visible()

    page.get_by_test_id("stRadio").filter(has_text="Image source").get_by_text(
        "Upload", exact=True).click()
    photo = tmp_path / "my holiday photo.jpg"
    shutil.copyfile(PHOTO, photo)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(photo))
    expect(page.get_by_text(re.compile(r"As the model sees it: 3×224×224 \(converted from "
                                       r"512×512 colour\)\. Radii are in \[0, 1\] pixel units"))
           ).to_be_visible(timeout=30_000)
    expect(page.get_by_text("one of the 1,000 ImageNet classes")).to_be_visible()
    for label, value in (("n0 (selection samples)", 2), ("n (estimation samples)", 12)):
        box = page.get_by_role("spinbutton", name=label, exact=True)
        box.fill(str(value))
        box.press("Enter")
        expect(box).to_have_value(str(value))
    expect(page.get_by_text(re.compile(r"my holiday photo\.jpg · 2 \+ 12 samples"))
           ).to_be_visible(timeout=60_000)

    page.get_by_role("button", name="Certify", exact=True).click()
    expect(page.get_by_role("progressbar")).to_be_visible(timeout=30_000)
    expect(page.get_by_text(re.compile(r"Certifying: [\d,]+ / 14 samples"))).to_be_visible()
    result = page.get_by_text(re.compile(r"Prediction: bottlecap, certified in ℓ2 up to radius"))
    expect(result).to_be_visible(timeout=240_000)
    # the whole result drawn (a concrete element, not the status widget: under load the rerun
    # that draws a photo certificate can take longer than 20 s)
    expect(page.get_by_text("Follow this certificate")).to_be_visible(timeout=120_000)
    expect(result).to_contain_text("exact")
    metrics = page.locator("[data-testid='stMetric']")
    # a class name longer than a metric shows whole: a bold line under the label, not cut
    expect(page.locator("strong", has_text=re.compile(r"^bottlecap$"))).to_be_visible(
        timeout=60_000)
    expect(metrics.filter(has_text="Elapsed").get_by_test_id("stMetricValue")).to_have_text(
        re.compile(r"^\d+(\.\d+)? s$"))
    expect(page.get_by_text(re.compile(r"^No audit on the CPU for imagenet-denoised-0\.25"))
           ).to_be_visible()
    radius = metrics.filter(has_text="Certified radius (ℓ2)").get_by_test_id("stMetricValue")
    assert 0 < float(radius.inner_text()) < 0.375       # the cap of n = 100 is 1.5σ
    expect(page.get_by_text("my holiday photo.jpg").first).to_be_visible()
    full_screenshot(page, tmp_path / "photo_certify.png")
