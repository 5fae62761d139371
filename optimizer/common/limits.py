"""Documented limits on input workbooks, in one place (SECURITY.md quotes these numbers).

A workbook may come from anywhere: an upload, a mail attachment, a nightly
export. These limits keep a hostile or broken file from exhausting memory or
time; each is far above what a real sourcing workbook needs, and each
refusal names the limit and what to do.
"""

from __future__ import annotations

from typing import Final

MiB: Final = 1024 * 1024

#: Largest workbook file read, bytes on disk.
MAX_FILE_BYTES: Final = 50 * MiB
#: Most entries (parts) in the .xlsx zip package.
MAX_MEMBERS: Final = 10_000
#: Largest total size of all zip entries once expanded, checked from the zip's
#: directory before anything is decompressed (zipfile never yields more bytes
#: than an entry declares, so the declared sizes bound the real ones).
MAX_UNCOMPRESSED_BYTES: Final = 200 * MiB
#: Highest expansion ratio (expanded / compressed) of an entry; real sheets stay
#: below 30, a zip bomb is in the thousands.
MAX_RATIO: Final = 100
#: Entries expanding to less than this are not held to MAX_RATIO (tiny parts
#: compress unevenly and cannot hurt).
RATIO_MIN_BYTES: Final = 1 * MiB
#: How much of an XML part's start is examined for a DTD (<!DOCTYPE ...>): the
#: prolog of a real part is under 100 bytes; a longer one is refused.
MAX_PROLOG_BYTES: Final = 16 * 1024
#: Most rows read per sheet (row numbers and <row> elements); reading stops at
#: the first row beyond it and the workbook is refused.
MAX_ROWS: Final = 100_000
#: Longest text in a cell, Excel's own limit.
MAX_TEXT_CHARS: Final = 32_767

#: Largest magnitude accepted for any number: beyond it a value is a typo
#: (1e20 t) and would wreck the LP's numerics.
MAX_NUMBER: Final = 1e9
#: Positive quantities below this (t, i.e. one gram) are warned about: HiGHS
#: treats them as zero (its feasibility tolerance is 1e-7).
TINY_T: Final = 1e-6
#: Largest ratio of the biggest to the smallest nonzero cost (or quantity)
#: before a warning: beyond it HiGHS may lose precision.
MAX_COEFFICIENT_RATIO: Final = 1e9
