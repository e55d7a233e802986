"""Field rules shared by the carriers' credential models (each error names the field and the rule)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from callwright.domain.phone import E164_RULE, is_e164, normalize_national


def _e164(value: str) -> str:
    if not is_e164(value):
        raise ValueError(E164_RULE)
    return value


def _secret(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


def _phone_in_or_e164(value: str) -> str:
    if normalize_national(value) is None:
        raise ValueError("must be a valid phone number, in E.164 (+91…) or Indian national format")
    return value


def pattern(regex: str, rule: str):
    compiled = re.compile(regex)

    def _check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(rule)
        return value

    return AfterValidator(_check)


E164 = Annotated[str, Field(max_length=16), AfterValidator(_e164)]
Secret = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_secret)]
PhoneNumber = Annotated[str, Field(max_length=20), AfterValidator(_phone_in_or_e164)]
