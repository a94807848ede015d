"""Phonetic codes for name tokens (jellyfish), computed once per distinct token."""

from __future__ import annotations

import jellyfish


def phonetic_codes(token: str | None) -> tuple[str | None, str | None, str | None]:
    """(metaphone, NYSIIS, Soundex) of one cleaned name token; Nones for an empty token."""
    if not token:
        return None, None, None
    metaphone = jellyfish.metaphone(token) or None
    nysiis = jellyfish.nysiis(token) or None
    return metaphone, nysiis, jellyfish.soundex(token)
