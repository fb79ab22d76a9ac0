"""The rule error: why the table refused a command, with a stable code."""

from __future__ import annotations


class RuleError(Exception):
    """A command the table refuses.

    `code` is stable and meant for programs (clients switch on it); `message`
    is for people and may change wording between releases.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
