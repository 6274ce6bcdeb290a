"""The page's own files: every reason and alert code the server can send has words in both
languages, every text key the markup names exists in both, and nothing is loaded from outside."""

from __future__ import annotations

import re
from pathlib import Path

from menwei.wire import Reason
from server.db.models import AlertKind

STATIC = Path(__file__).resolve().parents[2] / "server" / "web" / "static"


def _block(js: str, name: str, lang: str) -> set[str]:
    body = js[js.index(f"window.{name}"):]
    body = body[body.index(f"  {lang}: {{"):]
    body = body[: body.index("\n  },")]
    return set(re.findall(r"(?:^|[\s,{])([a-z_]+): \"", body, re.M))


def test_every_reason_and_alert_code_has_words_in_english_and_chinese():
    js = (STATIC / "i18n.js").read_text()
    codes = {r.value for r in Reason} | {k.value for k in AlertKind}
    for lang in ("en", "zh"):
        missing = codes - _block(js, "MENWEI_CODES", lang)
        assert not missing, f"{lang}: {sorted(missing)}"


def test_every_text_key_exists_in_both_languages():
    js = (STATIC / "i18n.js").read_text()
    en, zh = _block(js, "MENWEI_TEXT", "en"), _block(js, "MENWEI_TEXT", "zh")
    assert en == zh, (sorted(en - zh), sorted(zh - en))
    used = set(re.findall(r'data-i18n="([a-z_]+)"', (STATIC / "index.html").read_text()))
    for page in STATIC.glob("*.js"):  # app.js and every page's file
        used |= set(re.findall(r'\bt\("([a-z_]+)"', page.read_text()))
    assert used <= en, sorted(used - en)


def test_nothing_is_fetched_from_another_host():
    """Compounds often have no internet: every asset is the server's own."""
    for f in STATIC.iterdir():
        text = f.read_text()
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", text), f.name
        assert "cdn" not in text.lower(), f.name
