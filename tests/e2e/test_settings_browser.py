"""Settings in a real browser (issue 28): a REST API key made by pressing Enter in its name box is shown once,
as one made by the button is; the safety screen is one choice, its nine thresholds only behind "custom".
Enter in a form is the browser's own submit, which the AppTest tests cannot press.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_browser import browser_page, main, server, wait_idle

__all__ = ["browser_page", "server"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_enter_in_the_key_name_shows_the_key_and_safety_is_one_choice(browser_page, server):
    page, problems = browser_page
    m = main(page)
    m.get_by_text("New here? Start with").wait_for(timeout=120_000)
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Settings").click()
    box = m.get_by_label("What the new key is for", exact=True)
    box.wait_for(timeout=60_000)
    wait_idle(page)

    box.fill("phone app")
    box.press("Enter")
    expect(m.get_by_text("created. Copy it now")).to_be_visible(timeout=60_000)
    expect(m.locator("code").filter(has_text="glk_")).to_have_count(1, timeout=30_000)
    assert m.get_by_text("A key name needs").count() == 0

    # safety: one choice; the per-category thresholds appear only for "custom"
    assert m.get_by_label("toxicity threshold", exact=True).count() == 0
    m.locator("[data-testid='stButtonGroup']").get_by_text("custom", exact=True).click()
    wait_idle(page)
    expect(m.get_by_label("toxicity threshold", exact=True)).to_be_visible(timeout=30_000)
    assert not problems, problems
