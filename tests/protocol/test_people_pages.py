"""What a person sees on GovID's own pages: the language they chose, language links that
lead somewhere, Thai error pages, readable 404/405 pages and a sign-out "Cancel" that
lands on a page (black-box audit findings)."""

import html
import re

from tests.protocol.conftest import Browser
from tests.protocol.rp import authorize_url, rp_client


def lang_link(page, code: str) -> str:
    m = re.search(rf'<a href="([^"]*)" lang="{code}"', page.text)
    assert m, page.text[:600]
    return html.unescape(m.group(1))


def test_the_persons_language_choice_beats_the_apps_ui_locales(world):
    b = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world, "web"), ui_locales="th")
    page = b.http.get(url)
    assert '<html lang="th">' in page.text
    english = b.http.get(lang_link(page, "en"))
    assert english.status_code == 200 and '<html lang="en">' in english.text
    assert "Sign in" in english.text and 'action="/login"' in english.text
    assert b.http.cookies.get("govid_locale") == "en"
    # And back again.
    thai = b.http.get(lang_link(english, "th"))
    assert '<html lang="th">' in thai.text and b.http.cookies.get("govid_locale") == "th"


def test_ui_locales_still_beats_the_cookie_without_a_fresh_choice(world):
    b = Browser(world.base)
    b.http.cookies.set("govid_locale", "en")
    url, *_ = authorize_url(world, rp_client(world, "web"), ui_locales="th")
    assert '<html lang="th">' in b.http.get(url).text
    url, *_ = authorize_url(world, rp_client(world, "web"))
    assert '<html lang="en">' in b.http.get(url).text  # no ui_locales: the cookie
