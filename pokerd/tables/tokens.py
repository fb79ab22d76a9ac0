"""Seat tokens: 128 random bits for the player, only their hash for the table."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 16
"""128 bits: guessing a live token is out of reach."""


def new_token() -> tuple[str, str]:
    """A fresh token for the player, and the hash the table keeps."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """What the log stores: SHA-256 of the token, hex. Never the token itself.

    Any text a client sends has a hash (a lone surrogate, which JSON lets a
    hello escape, included): one that is no token holds no seat.
    """
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
