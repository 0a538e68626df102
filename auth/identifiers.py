"""How emails and usernames are compared, so look-alikes cannot pose as someone else.

Both are NFKC-normalised before they are stored or looked up: compatibility forms such as
fullwidth letters (U+FF41 for `a`) become plain ones (NFKC leaves ASCII as it is, so
existing ASCII accounts are unaffected). Look-alikes NFKC cannot fold, such as a Cyrillic
`a` (U+0430) among Latin letters, are refused by `mixed_scripts`: a local part or domain
label must be written in one script, or in scripts written together (UTS #39, "highly
restrictive").
"""

from __future__ import annotations

import unicodedata

# Han is written with these scripts (Japanese, Chinese, Korean), and all of them with Latin.
_WRITTEN_TOGETHER = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
# Unicode names that do not start with their script's name.
_SCRIPT_OF_NAME = {"CJK": "HAN", "IDEOGRAPHIC": "HAN", "KATAKANA-HIRAGANA": "KATAKANA"}


def normal_form(text: str) -> str:
    """The form an email or username is stored and compared in."""
    return unicodedata.normalize("NFKC", text)


def _script(letter: str) -> str:
    """A letter's script, from the first word of its Unicode name (`LATIN SMALL LETTER A`).
    The standard library has no script property; names carry it for letters."""
    first = unicodedata.name(letter, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_OF_NAME.get(first, first)


def mixed_scripts(text: str) -> list[str]:
    """The scripts of `text`'s letters when they do not belong together, else []."""
    scripts = {_script(c) for c in text if c.isalpha()}
    if len(scripts) <= 1 or any(scripts <= together for together in _WRITTEN_TOGETHER):
        return []
    return sorted(scripts)
