"""Parsing the residents CSV an office exports from its spreadsheet.

Only parsing and validation live here (no database, no faces), so each row's problem can be
reported in words an office understands before anything is written.
Columns (header names, any order, case-insensitive): resident_id, name, building, unit,
household, status, valid_from, valid_until, phone (optional); unknown columns are ignored.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from menwei.errors import MenweiError

REQUIRED_COLUMNS = ("resident_id", "name", "building", "unit", "household", "status")
OPTIONAL_COLUMNS = ("valid_from", "valid_until", "phone")
MAX_ROWS = 200_000
MAX_CSV_BYTES = 64 * 1024 * 1024

# Statuses as an office writes them → the registry's status; the Chinese terms are what a
# 社区 spreadsheet typically says.
STATUS_ALIASES = {
    "resident": "resident", "owner": "resident", "业主": "resident", "居民": "resident",
    "tenant": "tenant", "租户": "tenant",
    "visitor": "visitor", "访客": "visitor",
    "moved_out": "moved_out", "moved out": "moved_out", "已迁出": "moved_out",
    "banned": "banned", "禁止": "banned",
    "quarantine": "quarantine", "home_quarantine": "quarantine", "居家隔离": "quarantine",
}
# Statuses that only make sense with an end date.
NEEDS_VALID_UNTIL = {"visitor", "quarantine"}


class CsvError(MenweiError):
    code = "bad_csv"


class ResidentRow(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    resident_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1, max_length=200)
    building: str = Field(min_length=1, max_length=64)
    unit: str = Field(min_length=1, max_length=64)
    household: str = Field(min_length=1, max_length=64)
    status: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\- ()]*$")

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, v: object) -> str:
        key = str(v or "").strip().lower()
        if key not in STATUS_ALIASES:
            raise ValueError(f"unknown status {v!r} (one of: {', '.join(sorted(set(STATUS_ALIASES.values())))})")
        return STATUS_ALIASES[key]

    @field_validator("valid_from", "valid_until", "phone", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("valid_from", "valid_until", mode="before")
    @classmethod
    def _date(cls, v: object, info: ValidationInfo) -> object:
        # a bare date means the whole day in UTC: valid from its start, until its last second
        if isinstance(v, str) and len(v.strip()) == 10:
            day = date.fromisoformat(v.strip())
            at = time(23, 59, 59) if info.field_name == "valid_until" else time(0)
            return datetime.combine(day, at, UTC)
        return v

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return v
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)

    @model_validator(mode="after")
    def _period(self) -> ResidentRow:
        if self.status in NEEDS_VALID_UNTIL and self.valid_until is None:
            raise ValueError(f"status {self.status} needs valid_until")
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


@dataclass(frozen=True)
class ParsedRow:
    line: int  # 1-based line in the file (the header is line 1)
    raw_id: str  # resident_id as written, for the report even when the row is invalid
    row: ResidentRow | None
    error: str | None


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without Excel's BOM), else GB18030 — what Chinese office spreadsheets save."""
    if len(data) > MAX_CSV_BYTES:
        raise CsvError(f"CSV is {len(data)} bytes, limit {MAX_CSV_BYTES}")
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise CsvError("CSV is neither UTF-8 nor GB18030 text")


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "row"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def parse_csv(data: bytes) -> list[ParsedRow]:
    """Every data row with either a validated ResidentRow or the reason it is invalid.

    A file-level problem (not text, missing columns, too many rows) raises CsvError: no row of
    such a file is trustworthy. Duplicate resident ids: the first occurrence wins, later ones are
    invalid rows.
    """
    text = decode_csv(data)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise CsvError("CSV is empty (no header line)")
    header = {h.strip().lower(): h for h in reader.fieldnames if h}
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CsvError(f"CSV header lacks column(s): {', '.join(missing)}")
    out: list[ParsedRow] = []
    seen: set[str] = set()
    try:
        for rec in reader:
            if len(out) >= MAX_ROWS:
                raise CsvError(f"CSV has more than {MAX_ROWS} rows; split it")
            line = reader.line_num
            values = {k: (rec.get(header[k]) or "") for k in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if k in header}
            if not any(v.strip() for v in values.values()):
                continue  # blank lines at the end of a spreadsheet export
            raw_id = values.get("resident_id", "").strip()
            if None in rec:  # more cells than header columns
                out.append(ParsedRow(line, raw_id, None, "row has more cells than the header"))
                continue
            try:
                row = ResidentRow.model_validate(values)
            except ValidationError as exc:
                out.append(ParsedRow(line, raw_id, None, _describe(exc)))
                continue
            if row.resident_id in seen:
                out.append(ParsedRow(line, raw_id, None, f"resident_id {row.resident_id} repeats an earlier row"))
                continue
            seen.add(row.resident_id)
            out.append(ParsedRow(line, raw_id, row, None))
    except csv.Error as exc:
        raise CsvError(f"CSV line {reader.line_num}: {exc}") from None
    return out
