"""Two users at once: two isolated browser contexts on one `streamlit run` server each keep
their own settings (caches are shared, session state and URL are not)."""

from __future__ import annotations

import re

from browser_helpers import BROWSER_TEST, PLOT, pick, wait_idle

pytestmark = BROWSER_TEST

DRAWN = f"{PLOT} svg.main-svg"
CAPTION = re.compile(r"noise, .* generator · d = ")


def test_two_sessions_keep_their_own_state(browser, app_url):
    from playwright.sync_api import expect

    contexts = [browser.new_context(viewport={"width": 1280, "height": 1100}) for _ in range(2)]
    try:
        first, second = (ctx.new_page() for ctx in contexts)
        for page in (first, second):
            page.goto(f"{app_url}/noise_lab")             # the default page is Start
            page.wait_for_selector(DRAWN, timeout=30_000)
        caption_1, caption_2 = (p.get_by_text(CAPTION) for p in (first, second))

        pick(first, "Density", "Laplace (laplace)")               # user 1 changes the noise
        slider = first.get_by_role("slider", name="σ (noise level)")
        slider.focus()
        slider.press("ArrowRight")
        expect(caption_1).to_contain_text("Laplace noise")
        expect(caption_1).to_contain_text("σ = 0.55")
        expect(first).to_have_url(re.compile(r"density=Laplace.*sigma=0\.55"))

        seed = second.get_by_role("spinbutton", name="Seed")      # user 2 reruns meanwhile
        seed.fill("5")
        seed.press("Enter")
        expect(second.get_by_text("(seed 5)")).to_be_visible(timeout=15_000)
        wait_idle(second)
        expect(caption_2).to_contain_text("Gaussian noise")
        expect(caption_2).to_contain_text("σ = 0.50")
        assert "density" not in second.url and "sigma" not in second.url

        second.get_by_text("Teaching mode", exact=True).click()   # user 2 simplifies the UI
        expect(second).to_have_url(re.compile(r"teaching=true"))
        expect(second.get_by_role("spinbutton", name="Seed")).to_have_count(0)
        expect(second.get_by_text("(seed 0)")).to_be_visible(timeout=15_000)

        first.get_by_role("slider", name="p_A (marker and formula)").focus()
        first.keyboard.press("ArrowRight")                        # user 1 reruns: unchanged
        wait_idle(first)
        expect(caption_1).to_contain_text("Laplace noise")
        expect(caption_1).to_contain_text("σ = 0.55")
        expect(first.get_by_text("(seed 0)")).to_be_visible()
        expect(first.get_by_role("spinbutton", name="Seed")).to_have_count(1)
        assert "teaching" not in first.url
        expect(caption_2).to_contain_text("Gaussian noise")
    finally:
        for ctx in contexts:
            ctx.close()
