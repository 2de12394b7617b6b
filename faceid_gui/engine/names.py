"""People's names: typed by strangers, shown to everyone. One spelling per person, nothing invisible in it.

A name is stored in Unicode NFC (so "José" typed with a combining accent is the same name as with "é") and two
names are the same person when their case-folded forms match (Python's full Unicode folding: "Élodie" is
"élodie"; SQLite's NOCASE folds ASCII only). Characters that print as nothing or reorder the text around them
are refused, so a name can neither hide a difference ("Obama" + ZERO WIDTH SPACE) nor forge output.
"""
from __future__ import annotations

import unicodedata

from .errors import GalleryError

MAX_NAME_CHARS = 100

# Unicode categories with no business in a name: controls, format characters (zero-width, bidi overrides),
# line/paragraph separators, private use, surrogates, unassigned.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}
# Default_Ignorable_Code_Point characters outside those categories: they render as nothing (variation selectors,
# Hangul fillers, the combining grapheme joiner, ...; ranges from Unicode's DerivedCoreProperties.txt), and
# U+2800 BRAILLE PATTERN BLANK, which prints as a space but is no space to str.split.
_INVISIBLE_RANGES = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x3164, 0x3164),
                     (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF), (0x2800, 0x2800))


def _problem(char: str) -> str | None:
    code = ord(char)
    if unicodedata.category(char) in _REFUSED_CATEGORIES or any(lo <= code <= hi for lo, hi in _INVISIBLE_RANGES):
        label = unicodedata.name(char, "control character" if code < 0x20 or 0x7F <= code < 0xA0 else "unnamed")
        return f"U+{code:04X} {label}"
    return None


def clean_name(name: str) -> str:
    """The name as it is stored: NFC, inner runs of spaces made one plain space; refused with a GalleryError
    (one line, the offending character named) when empty, too long, undecodable or holding an invisible or
    control character."""
    _refuse_undecodable(name)
    for char in name:
        problem = _problem(char)
        if problem:
            raise GalleryError(f"the name {_quoted(name)} contains an invisible or control character ({problem}); "
                               "type it again without it")
    name = " ".join(unicodedata.normalize("NFC", name).split())  # str.split: every Unicode space, tabs included
    if not name:
        raise GalleryError("a person needs a name")
    if len(name) > MAX_NAME_CHARS:
        raise GalleryError(f"a name can have at most {MAX_NAME_CHARS} characters (this one has {len(name)})")
    return name


def _refuse_undecodable(name: str) -> None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise GalleryError(f"the name {_quoted(name)} is not valid text (undecodable bytes); type it again") from None


def _quoted(name: str) -> str:
    """A refused name in a message: repr escapes what it hides, and a huge one is cut short."""
    return repr(name[:60]) + (f" (and {len(name) - 60} more characters)" if len(name) > 60 else "")


def name_key(name: str) -> str:
    """What two spellings of one name share: NFC, Unicode case folding, spaces collapsed. Refuses only
    undecodable text, so a name stored before the rules of clean_name can still be found, renamed, forgotten."""
    _refuse_undecodable(name)
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())
    return " ".join(folded.split())


def same_name(a: str, b: str) -> bool:
    return name_key(a) == name_key(b)
