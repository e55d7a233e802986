"""Text types for request bodies and parameters, by what the text is (rules: ``domain.text``).

- ``SafeText``: free text (prompts, messages, instructions) — tab and line breaks allowed;
- ``SafeLine``: one line (numbers, tokens, ids, model names) — no control characters;
- ``SafeName``: a name, label, slug or URL — no control characters and no invisible bidi or
  zero-width characters.

With constraints, put the check after them, ``Annotated[str, StringConstraints(max_length=50),
NAME_CHARS]``: constraints placed after a validator lose their own error messages (and a
``pattern`` its place in the OpenAPI schema), and ``strip_whitespace`` would run after the check.
A bare ``SafeName`` takes ``= Field(max_length=…)``; ``SafeName | None`` does not (write
``Annotated[str, Field(max_length=…), NAME_CHARS] | None``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

from callwright.domain.text import check_free_text, check_json, check_line, check_name

FREE_TEXT_CHARS = AfterValidator(check_free_text)
LINE_CHARS = AfterValidator(check_line)
NAME_CHARS = AfterValidator(check_name)

SafeText = Annotated[str, FREE_TEXT_CHARS]
SafeLine = Annotated[str, LINE_CHARS]
SafeName = Annotated[str, NAME_CHARS]
# A JSON object passed through as data (a call's variables): every key and string is free text.
SafeJsonObject = Annotated[dict[str, Any], AfterValidator(check_json)]
