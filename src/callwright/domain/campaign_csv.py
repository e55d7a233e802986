"""Contacts from a CSV file: which column is the phone, the name, the time zone, and which columns
become the call's ``{{variables}}`` (a mapping from variable name to column header).

Without a mapping, the columns ``phone``, ``name`` and ``timezone`` (any case) are those fields,
and every other column is a variable named after its header. With ``variables`` given, only the
columns it names become variables.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from callwright.domain.agents import VARIABLE_NAME_RULE, is_variable_name

ERRORS_SHOWN = 20


class CsvProblem(ValueError):
    """The file cannot be read as contacts; ``problems`` are sentences naming a line or column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0])
        self.problems = problems


@dataclass(frozen=True, slots=True)
class CsvMapping:
    phone: str = "phone"
    name: str | None = None  # None: a "name" column if there is one
    timezone: str | None = None  # None: a "timezone" column if there is one
    variables: dict[str, str] | None = None  # variable name → column; None: every other column


@dataclass(slots=True)
class CsvContact:
    line: int  # in the file, the header being line 1
    phone: str
    name: str | None = None
    timezone: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def parse_contacts(data: bytes, mapping: CsvMapping, *, max_rows: int) -> list[CsvContact]:
    """The file's contacts, in its order; CsvProblem if the file, its header or the mapping is
    wrong. Phone numbers are returned as written (the caller checks them)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvProblem([f"the file must be UTF-8 text (byte {exc.start} is not)"]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration:
        raise CsvProblem(["the file is empty; its first line must name the columns"]) from None
    except csv.Error as exc:
        raise CsvProblem([f"line 1: {exc}"]) from None
    columns = _columns(header, mapping)
    contacts: list[CsvContact] = []
    problems: list[str] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines (a trailing newline, spacer rows)
            line = reader.line_num
            if len(contacts) == max_rows:
                raise CsvProblem([f"the file holds more than {max_rows} contacts; split it"])
            cells = {name: (row[index].strip() if index < len(row) else "") for name, index in columns.items()}
            phone = cells.pop("\0phone")
            if not phone:
                problems.append(f"line {line}: the phone column is empty")
                continue
            name = cells.pop("\0name", "") or None
            timezone = cells.pop("\0timezone", "") or None
            metadata = {variable: value for variable, value in cells.items() if value}
            contacts.append(CsvContact(line, phone, name, timezone, metadata))
    except csv.Error as exc:
        raise CsvProblem([f"line {reader.line_num}: {exc}"]) from None
    if problems:
        raise CsvProblem(problems[:ERRORS_SHOWN])
    if not contacts:
        raise CsvProblem(["the file has a header but no contacts"])
    return contacts


def _columns(header: list[str], mapping: CsvMapping) -> dict[str, int]:
    """Field or variable → column index. Fields are keyed ``\\0phone`` etc. so no variable name
    (which must be an identifier) can clash with them."""
    by_name = {column: index for index, column in enumerate(header) if column}
    by_folded = {column.lower(): index for column, index in by_name.items()}

    def find(column: str, *, required: bool, what: str) -> int | None:
        index = by_name.get(column, by_folded.get(column.lower()))
        if index is None and required:
            raise CsvProblem([f"the file has no column {column!r} for {what}; its columns are " + ", ".join(header)])
        return index

    columns: dict[str, int] = {}
    phone = find(mapping.phone, required=True, what="the phone number")
    assert phone is not None
    columns["\0phone"] = phone
    for key, given in (("name", mapping.name), ("timezone", mapping.timezone)):
        index = find(given or key, required=given is not None, what=key)
        if index is not None:
            columns["\0" + key] = index
    if mapping.variables is not None:
        for variable, column in mapping.variables.items():
            index = find(column, required=True, what=f"variable {variable!r}")
            assert index is not None
            columns[variable] = index
        return columns
    used = set(columns.values())
    for column, index in by_name.items():
        if index in used:
            continue
        if not is_variable_name(column):
            raise CsvProblem(
                [
                    f"column {column!r} cannot be a variable name: it {VARIABLE_NAME_RULE}; "
                    "rename it, or list the columns to use in mapping.variables"
                ]
            )
        columns[column] = index
    return columns
