"""Thai renders in the font GovID ships (not whatever the device has), loaded under the
pages' own CSP; the focus indicator is visible on white and on the blue bar (WCAG 2.1
1.4.11: 3:1)."""

from __future__ import annotations


def _luminance(rgb: tuple[int, int, int]) -> float:
    def chan(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (chan(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rgb(css: str) -> tuple[int, int, int]:
    inner = css[css.index("(") + 1 : css.index(")")]
    r, g, b = (int(float(x)) for x in inner.split(",")[:3])
    return r, g, b


def test_thai_is_set_in_the_shipped_sarabun_font(browser, e2e_world):
    context = browser.new_context(locale="th")  # CSP in force
    page = context.new_page()
    fonts, console = [], []
    page.on("request", lambda r: fonts.append(r.url) if "/static/fonts/" in r.url else None)
    page.on("console", lambda m: console.append(m.text))
    page.goto(f"{e2e_world.base}/help?lang=th")  # the choice of language
    page.goto(f"{e2e_world.base}/account")  # not signed in: the sign-in page
    page.wait_for_selector("#email")
    loaded = page.evaluate(
        """async () => {
            await document.fonts.ready;
            await document.fonts.load('16px Sarabun', 'ภาษาไทย');
            return document.fonts.check('16px Sarabun', 'ภาษาไทย');
        }"""
    )
    assert loaded
    assert any(u.endswith("sarabun-thai-400-normal.woff2") for u in fonts), fonts
    family = page.evaluate("getComputedStyle(document.querySelector('button')).fontFamily")
    assert family.startswith("Sarabun") or family.startswith('"Sarabun"'), family
    assert not [m for m in console if "Content Security Policy" in m], console
    context.close()


def test_focus_ring_contrast_on_white_and_on_the_bar(browser, e2e_world):
    context = browser.new_context(locale="en")
    page = context.new_page()
    page.goto(f"{e2e_world.base}/help?lang=en")
    page.goto(f"{e2e_world.base}/account")
    page.wait_for_selector("#email")
    page.focus("#email")
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineColor")
    shadow = page.evaluate("getComputedStyle(document.activeElement).boxShadow")
    assert contrast(_rgb(ring), (255, 255, 255)) >= 3
    bar = page.evaluate(
        "getComputedStyle(document.querySelector('.bar') || document.body).backgroundColor"
    )
    assert contrast(_rgb(shadow), _rgb(bar)) >= 3, (shadow, bar)
    context.close()
