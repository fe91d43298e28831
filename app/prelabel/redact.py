"""Optional redaction of e-mail addresses and phone numbers before task content leaves for an endpoint.

Phone numbers are runs of 9 to 15 digits with the usual separators, optionally led by "+": enough for
international and national numbers, while order numbers, prices and dates (8 digits or fewer) survive."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s().-]{0,2}\d){8,14}(?!\w)")
EMAIL_MARK = "[EMAIL]"
PHONE_MARK = "[PHONE]"


class Redactor:
    def __init__(self, *, emails: bool, phones: bool) -> None:
        self.emails = emails
        self.phones = phones
        self.counts: Counter[str] = Counter()

    @property
    def active(self) -> bool:
        return self.emails or self.phones

    def text(self, value: str) -> str:
        if self.emails:
            value, n = EMAIL.subn(EMAIL_MARK, value)
            self.counts["emails"] += n
        if self.phones:
            value, n = PHONE.subn(PHONE_MARK, value)
            self.counts["phones"] += n
        return value

    def prompt(self, prompt: Any) -> Any:
        if not self.active:
            return prompt
        if isinstance(prompt, str):
            return self.text(prompt)
        if isinstance(prompt, list):
            return [{**m, "content": self.text(str(m.get("content", "")))} for m in prompt]
        return prompt

    def responses(self, responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self.active:
            return responses
        return [{**r, "text": self.text(str(r.get("text", "")))} for r in responses]
