"""The caregiver page in a real headless browser: Debian's chromium driven by playwright (no browser download).

A real AckServer on 127.0.0.1 over a real outbox (:class:`test_caregiver_page.Home`: a heartbeat,
an open and an acknowledged seizure event, a forecast notice). The page is opened as on a phone
(390 x 844, mobile viewport rules); full-page screenshots go to the test's tmp_path (the paths are
printed; run with ``-s`` to see them).
"""

from __future__ import annotations

import shutil

import pytest
from test_caregiver_page import STREAM, Home

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("no chromium on PATH (Debian: apt-get install chromium)", allow_module_level=True)

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture()
def home(tmp_path):
    h = Home(tmp_path)
    yield h
    h.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture()
def phone(browser):
    context = browser.new_context(**PHONE)
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide: it scrolls sideways on a 390 px phone"


def test_page_loads_fits_a_phone_and_acknowledges(home, phone, tmp_path):
    url = f"{home.server.url}/home?t={home.link('mum')}"
    answer = phone.goto(url)
    assert answer.status == 200
    text = phone.inner_text("body")
    assert "Sam" in text and "Monitoring is running" in text and "Signal: good." in text
    assert "Delivered to mum; not acknowledged yet." in text and "Acknowledged by mum at 01:31." in text
    assert "Seizure risk today: HIGH (62\xa0%)" in text
    assert STREAM not in phone.content()
    _fits(phone)
    button = phone.get_by_role("button", name="I am on it")
    assert button.count() == 1
    box = button.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 300, box  # a thumb-sized target ...
    assert box["y"] + box["height"] <= 844, box  # ... on the first screen, without scrolling
    shot = tmp_path / "caregiver-390x844.png"
    phone.screenshot(path=str(shot), full_page=True)
    print(f"\ncaregiver page screenshot: {shot}")

    with phone.expect_navigation():
        button.tap()
    text = phone.inner_text("body")
    assert "Acknowledged: thank you." in text and "I am on it" not in text
    assert home.event(home.open.id)["acked_by"] == "link:mum"
    _fits(phone)
    done = tmp_path / "caregiver-390x844-acknowledged.png"
    phone.screenshot(path=str(done), full_page=True)
    print(f"caregiver page after 'I am on it': {done}")


def test_forged_expired_and_revoked_links_get_the_refusal_page(home, phone, tmp_path):
    good = home.link("mum")
    body, sig = good.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig
    expiring = home.link("mum", days=1.0)
    revoked = home.link("dad")
    assert home.links.revoke("dad") == 1

    def refused(token: str, why: str) -> None:
        answer = phone.goto(f"{home.server.url}/home?t={token}")
        text = phone.inner_text("body")
        assert answer.status == 403 and "This link cannot be used" in text and why in text, text
        assert "Sam" not in text and "Seizure" not in text and phone.locator("button").count() == 0
        _fits(phone)

    refused(forged, "forged")
    refused(revoked, "revoked")
    refused("", "incomplete or damaged")
    phone.screenshot(path=str(tmp_path / "caregiver-refused.png"), full_page=True)
    home.clock.t += 86401.0  # the signer's clock: a day later, the one-day link has expired
    refused(expiring, "expired")
    assert phone.goto(f"{home.server.url}/home?t={good}").status == 200
