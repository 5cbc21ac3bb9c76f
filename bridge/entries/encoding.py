"""Uploaded text files: bytes -> text, in UTF-8 or an encoding we are confident of, said by name.

Entry point: `decode_upload`. UTF-8 (with or without BOM) is taken as it is. A file that is UTF-8
but for a few bytes is refused (reading it any other way garbles every accented letter). Other
files go to charset-normalizer; Windows-1252 (Excel's "CSV" in the Americas and Western Europe)
is preferred among the single-byte encodings that read as plausible text, and anything the
detector is not sure of is refused with advice to save the file as UTF-8.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from charset_normalizer import from_bytes

from bridge.errors import EncodingRefused

EXCEL_ADVICE = "save it as UTF-8 (in Excel: File > Save As > 'CSV UTF-8 (Comma delimited)')"
# One well-formed UTF-8 sequence of two to four bytes (RFC 3629, no surrogates or overlongs).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
# How far the detector's best guess may be from clean text (its "chaos": 0 is clean).
_MAX_CHAOS = 0.15
# Non-ASCII bytes a multi-byte guess needs when the detector did not rank it first: two kanji
# read as Shift-JIS, Big5 or GBK alike.
_MULTIBYTE_EVIDENCE = 16
# Punctuation and signs text carries beside its letters; anything else non-ASCII in a
# single-byte reading (‰, ‹, ¤, ³, ¸) is more likely another encoding's bytes.
_SIGNS = frozenset("\u00a0–—‘’‚“”„…•€£°«»¡¿§©®™·´×÷±¶")
# Multi-byte encodings the detector may name; their bytes rarely read as text by chance.
_MULTIBYTE = frozenset(
    {"cp932", "shift_jis", "shift_jis_2004", "shift_jisx0213", "euc_jp", "euc_jis_2004",
     "euc_jisx0213", "gb2312", "gbk", "gb18030", "big5", "big5hkscs", "cp950", "euc_kr",
     "cp949", "johab"}
)  # fmt: skip
# The single-byte encodings spreadsheets write ("CSV" in a Windows or Mac locale).
_LATIN_SCRIPT = frozenset({"cp1252", "cp1250", "cp1254", "cp1257", "cp1258", "mac_roman"})
_SINGLE_BYTE = _LATIN_SCRIPT | {"cp1251", "cp1253", "cp1255", "cp1256", "cp874"}
_WORDS = re.compile(r"[^\x00-\x40\x5b-\x60\x7b-\x7f]+")  # runs without ASCII non-letters
_NAMES = {
    "cp1252": "Windows-1252",
    "cp932": "Shift-JIS (Windows)",
    "shift_jis": "Shift-JIS",
    "euc_jp": "EUC-JP",
    "gb18030": "GB18030",
    "gbk": "GBK",
    "big5": "Big5",
    "cp949": "EUC-KR (Windows)",
    "euc_kr": "EUC-KR",
    "mac_roman": "Mac Roman",
}


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # as a person knows it: "UTF-8", "Windows-1252", "Shift-JIS (Windows)"

    @property
    def is_utf8(self) -> bool:
        return self.encoding == "UTF-8"


def decode_upload(data: bytes, *, advice: str = EXCEL_ADVICE) -> DecodedText:
    """The file's text and the encoding it was read in; EncodingRefused, ending in `advice`
    (how to save the file as UTF-8), when unsure."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise EncodingRefused("the file is UTF-16 (Excel's 'Unicode Text'): " + advice)
    try:
        return DecodedText(data.decode("utf-8-sig"), "UTF-8")
    except UnicodeDecodeError as bad:
        first_bad = bad.start
    _refuse_damaged_utf8(data, first_bad, advice)
    matches = from_bytes(data)
    best = matches.best()
    if best is not None and best.encoding in _MULTIBYTE and best.chaos <= _MAX_CHAOS:
        return DecodedText(str(best), _name(best.encoding))
    # Single-byte encodings read almost any bytes, and for a few accented letters the detector
    # often ranks Baltic or DOS pages first where Excel wrote Windows-1252: try that first.
    guesses = ["cp1252"]
    if best is not None and best.encoding in _SINGLE_BYTE and best.chaos <= _MAX_CHAOS:
        guesses.append(best.encoding)
    for encoding in guesses:
        text = _plausible_reading(data, encoding)
        if text is not None:
            return DecodedText(text, _name(encoding))
    # A few Japanese or Chinese words among much ASCII: the detector samples chunks and may
    # rank single-byte pages first, yet no single-byte reading made sense. A multi-byte one
    # that reads every byte as text is then the file's.
    is_enough = len(_HIGH_BYTE.findall(data)) >= _MULTIBYTE_EVIDENCE
    for match in matches if is_enough else ():
        if match.encoding in _MULTIBYTE and match.chaos <= _MAX_CHAOS:
            text = _multibyte_reading(data, match.encoding)
            if text is not None:
                return DecodedText(text, _name(match.encoding))
    raise EncodingRefused(
        "the file is not UTF-8, and its encoding cannot be told with confidence (it may be "
        "another program's file, or a mix of encodings): " + advice
    )


def _refuse_damaged_utf8(data: bytes, first_bad: int, advice: str) -> None:
    """Refuse a file that is UTF-8 apart from a few bytes: another reading would garble it."""
    sequences = _UTF8_SEQUENCE.findall(data)
    stray = len(_HIGH_BYTE.findall(data)) - sum(len(s) for s in sequences)
    if not sequences or stray > len(sequences):
        return
    line = data.count(b"\n", 0, first_bad) + 1
    raise EncodingRefused(
        f"the file is UTF-8 except for {stray:,} byte{'s' if stray != 1 else ''} that "
        f"{'are' if stray != 1 else 'is'} not (the first on line {line}): it may have been "
        "damaged or edited with another program. Check that line, and " + advice
    )


def _plausible_reading(data: bytes, encoding: str) -> str | None:
    """The text in `encoding` if it reads as text: every non-ASCII character a letter or a
    common sign and, for a Latin script, every word with accents also an ASCII letter."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    for char in set(text):
        if not char.isascii() and char not in _SIGNS and unicodedata.category(char)[0] not in "LM":
            return None
    if encoding in _LATIN_SCRIPT:
        for word in _WORDS.findall(text):
            foreign = sum(not c.isascii() for c in word)
            # Cyrillic, Greek or CJK bytes read as Latin give words of accents and signs alone
            # ("Ïðèâåò", "’è—á"); ƒ is Shift-JIS katakana's lead byte read as Windows-1252.
            if foreign >= 2 and foreign == len(word):
                return None
            if "ƒ" in word:
                return None
    return text


def _multibyte_reading(data: bytes, encoding: str) -> str | None:
    """The text in `encoding` if every byte decodes to an assigned, printable character."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    for char in set(text):
        if unicodedata.category(char) in ("Cc", "Co", "Cn", "Cs") and char not in "\t\r\n":
            return None
    return text


def _name(encoding: str) -> str:
    if encoding.startswith("cp125"):
        return f"Windows-{encoding[2:]}"
    return _NAMES.get(encoding, encoding.replace("_", "-").upper())
