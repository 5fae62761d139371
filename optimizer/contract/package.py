"""The .xlsx file itself, before any sheet is read: identify it and hold its zip package to limits.

The file is untrusted. Its bytes are read once; a CSV, legacy .xls, HTML page
or encrypted workbook gets its own message; the zip package is held to the
limits in `optimizer.common.limits` (file size, entries, expanded size,
compression ratio) and every XML part's prolog is checked for a DTD, the
carrier of entity-expansion bombs; openpyxl then parses through defusedxml as
a second line (`load_workbook`).
"""

from __future__ import annotations

import io
import stat
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import openpyxl
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]

from optimizer.common import limits
from optimizer.common.format import printable
from optimizer.common.problems import InputFileError, Problem

SAVE_AS_XLSX = "open it in Excel and save it as 'Excel Workbook (*.xlsx)'"
OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
#: Zip entries that hold macros (VBA projects, Excel 4.0 macro sheets) or ActiveX controls.
MACRO_PARTS = ("xl/vbaProject.bin", "xl/macrosheets/", "xl/activeX/")
EXTERNAL_LINK_PARTS = "xl/externalLinks/"


def read_bytes(path: Path) -> bytes:
    """The whole file, read once so that every check and openpyxl see the same bytes."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be opened ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(info.st_mode):
        raise InputFileError(f"{path}: is a folder, not a workbook")
    if not stat.S_ISREG(info.st_mode):
        raise InputFileError(f"{path}: is not a regular file (a device, pipe or socket)")
    if info.st_size == 0:
        raise InputFileError(f"{path}: is empty (0 bytes), not a workbook")
    too_big = (
        f"{path}: refused: larger than the {limits.MAX_FILE_BYTES // limits.MiB} MiB limit "
        "for a workbook; remove unused sheets, images or formatting and save again"
    )
    if info.st_size > limits.MAX_FILE_BYTES:
        raise InputFileError(too_big)
    try:
        with path.open("rb") as fh:
            data = fh.read(limits.MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if len(data) > limits.MAX_FILE_BYTES:
        raise InputFileError(too_big)
    return data


def identify(data: bytes) -> str:
    """What a file that is not a zip package looks like, and what to do about it."""
    if data.startswith(OLE2_MAGIC):
        names = ole2_names(data)
        if {"EncryptedPackage", "EncryptionInfo"} & names:
            return (
                "it is an encrypted (password-protected) workbook, stored like a legacy .xls "
                "or encrypted workbook; remove the password in Excel (File > Info > Protect "
                "Workbook > Encrypt with Password) and save it again"
            )
        if {"Workbook", "Book"} & names:
            return f"it is a legacy .xls (Excel 97-2003) workbook; {SAVE_AS_XLSX}"
        return f"it is an OLE2 file (a legacy .xls or encrypted workbook); {SAVE_AS_XLSX}"
    head = data[:4096]
    text = _as_text(head)
    if text is None:
        return f"its format is unknown; {SAVE_AS_XLSX}"
    start = text.lstrip("\ufeff \t\r\n")[:512].lower()
    if start.startswith("<"):
        if "<html" in start or "<!doctype html" in start or "<table" in start:
            return f"it looks like an HTML page (web exports named .xls often are); {SAVE_AS_XLSX}"
        if "urn:schemas-microsoft-com:office:spreadsheet" in text:
            return f"it looks like an Excel 2003 XML spreadsheet; {SAVE_AS_XLSX}"
        return f"it looks like an XML file; {SAVE_AS_XLSX}"
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    return f'it looks like CSV/text (first line: "{printable(first)}"); {SAVE_AS_XLSX}'


def _as_text(head: bytes) -> str | None:
    """The start of a file as text if it reads as UTF-8, UTF-16 (with BOM) or Latin-1 text."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", "ignore")
    if b"\0" in head:
        return None
    text = head.decode("utf-8", "ignore") if _utf8(head) else head.decode("latin-1")
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\t\r\n\f")
    return text if controls <= len(text) // 100 else None


def _utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a character cut at the end of the sample
    return True


def ole2_names(data: bytes) -> set[str]:
    """Entry names in an OLE2 compound file's directory (empty if it cannot be followed)."""
    try:
        (shift,) = struct.unpack_from("<H", data, 0x1E)
        if not 7 <= shift <= 16:
            return set()
        size = 1 << shift
        n_fat, first_dir = struct.unpack_from("<II", data, 0x2C)
        fat: list[int] = []
        for sector in struct.unpack_from("<109I", data, 0x4C)[: min(n_fat, 109)]:
            chunk = data[(sector + 1) * size : (sector + 2) * size]
            fat.extend(struct.unpack(f"<{len(chunk) // 4}I", chunk[: len(chunk) // 4 * 4]))
        names: set[str] = set()
        sector, seen = first_dir, set[int]()
        while sector < len(fat) + 1 and sector not in seen and len(seen) < 10_000:
            seen.add(sector)
            start = (sector + 1) * size
            for entry in range(start, min(start + size, len(data)) - 127, 128):
                (length,) = struct.unpack_from("<H", data, entry + 64)
                if 2 <= length <= 64:
                    names.add(data[entry : entry + length - 2].decode("utf-16-le", "replace"))
            sector = fat[sector] if sector < len(fat) else -1
        return names
    except struct.error:
        return set()


# --------------------------------------------------------------------------- the zip package


def check_package(path: Path, archive: zipfile.ZipFile) -> list[Problem]:
    """Refuse a package that breaks a limit, hides a DTD or is not an .xlsx; warn about macros.

    Everything is decided from the zip directory and the first bytes of each
    entry, before any XML is parsed.
    """
    infos = archive.infolist()
    if len(infos) > limits.MAX_MEMBERS:
        raise InputFileError(
            f"{path}: refused: {len(infos):,} parts in the package, more than the "
            f"{limits.MAX_MEMBERS:,} limit"
        )
    total = sum(i.file_size for i in infos)
    if total > limits.MAX_UNCOMPRESSED_BYTES:
        raise InputFileError(
            f"{path}: refused: its parts expand to {total / limits.MiB:,.0f} MiB, more than "
            f"the {limits.MAX_UNCOMPRESSED_BYTES // limits.MiB} MiB limit (a zip bomb, or far "
            "larger than a sourcing workbook)"
        )
    for info in infos:
        if info.flag_bits & 0x1:
            raise InputFileError(f"{path}: refused: part {info.filename} is password-protected")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InputFileError(
                f"{path}: refused: part {info.filename} uses compression method "
                f"{info.compress_type}, which Excel never writes"
            )
        expanded = info.file_size
        if expanded > limits.RATIO_MIN_BYTES and expanded > limits.MAX_RATIO * info.compress_size:
            ratio = expanded / max(info.compress_size, 1)
            raise InputFileError(
                f"{path}: refused: part {info.filename} expands {ratio:,.0f} times "
                f"({info.compress_size:,} bytes to {expanded / limits.MiB:,.0f} MiB), more than "
                f"the limit of {limits.MAX_RATIO} (the shape of a zip bomb)"
            )
    names = {i.filename for i in infos}
    if "xl/workbook.bin" in names:
        raise InputFileError(
            f"{path}: not an .xlsx workbook: it is a binary .xlsb workbook; {SAVE_AS_XLSX}"
        )
    if "mimetype" in names and archive.read("mimetype").startswith(b"application/vnd.oasis"):
        raise InputFileError(
            f"{path}: not an .xlsx workbook: it is an OpenDocument (.ods) spreadsheet; "
            f"{SAVE_AS_XLSX}"
        )
    if "[Content_Types].xml" not in names:
        raise InputFileError(
            f"{path}: not an .xlsx workbook: a zip archive without the parts of a workbook"
        )
    for info in infos:
        if not info.is_dir():
            _check_prolog(path, archive, info)
    return _package_warnings(names)


def _check_prolog(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Refuse an XML part that declares a DTD (entity bombs, external entities)."""
    try:
        with archive.open(info) as fh:
            head = fh.read(limits.MAX_PROLOG_BYTES)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise InputFileError(
            f"{path}: not an .xlsx workbook: part {info.filename} is damaged ({exc})"
        ) from exc
    found = dtd_in_prolog(head, complete=len(head) < limits.MAX_PROLOG_BYTES)
    if found:
        raise InputFileError(
            f"{path}: refused: part {info.filename} {found} (XML bombs and external "
            "entities hide there; Excel never writes one)"
        )


def dtd_in_prolog(head: bytes, complete: bool = True) -> str | None:
    """Why an XML part's start is refused (it declares a DTD, or its prolog is too long), or None.

    `head` is the part's first bytes; `complete` is False when the part goes on.
    Anything that does not start like XML is left to the parser.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", "ignore")
    elif head[:2] in (b"<\0", b"\0<"):
        text = head.decode("utf-16-le" if head[0] == 0x3C else "utf-16-be", "ignore")
    else:
        text = head.decode("utf-8", "ignore").lstrip("\ufeff")
    i = 0
    while i < len(text):
        if text[i] in " \t\r\n":
            i += 1
            continue
        if text.startswith("<?", i):
            end, skip = text.find("?>", i + 2), 2
        elif text.startswith("<!--", i):
            end, skip = text.find("-->", i + 4), 3
        elif text.startswith("<!", i):
            return "declares a DTD (<!DOCTYPE ...>)"
        else:
            return None  # the root element, or not XML at all
        if end < 0:
            break
        i = end + skip
    return None if complete else f"has an XML prolog longer than {len(head):,} bytes"


def _package_warnings(names: set[str]) -> list[Problem]:
    """Macros and links to other files: never run or followed, but the planner should know."""
    problems = []
    macros = sorted(n for n in names if n.startswith(MACRO_PARTS))
    if macros:
        problems.append(
            Problem(
                "",
                "",
                f"the workbook contains macros or controls ({', '.join(macros[:3])}); they are "
                "never run: only the values saved in the cells are read",
                "warning",
            )
        )
    if any(n.startswith(EXTERNAL_LINK_PARTS) for n in names):
        problems.append(
            Problem(
                "",
                "",
                "the workbook links to other files; links are not followed: cells that use "
                "them are read with the values saved in this file",
                "warning",
            )
        )
    return problems


def load_workbook(path: Path, data: bytes) -> Any:
    """openpyxl's read-only workbook over the checked bytes (links and macros not loaded)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about unsupported extensions on stderr
        try:
            return openpyxl.load_workbook(
                io.BytesIO(data), read_only=True, data_only=True, keep_links=False, keep_vba=False
            )
        except Exception as exc:  # openpyxl raises many types for a damaged file
            raise unreadable(path, "", exc) from exc


def unreadable(path: Path, sheet: str, exc: BaseException) -> InputFileError:
    """The error for a part that failed to parse: an entity bomb or a damaged file."""
    root: BaseException = exc
    while root.__cause__ is not None or root.__context__ is not None:
        if isinstance(root, DefusedXmlException):
            break
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
    where = f"sheet {sheet}" if sheet else "the workbook"
    if isinstance(root, DefusedXmlException):
        return InputFileError(
            f"{path}: refused: {where} declares XML entities or a DTD "
            f"({type(root).__name__}); an XML bomb or external entity is never expanded"
        )
    why = printable(f"{type(root).__name__}: {root}", 160)
    return InputFileError(
        f"{path}: {where} cannot be read as an .xlsx workbook ({why}); "
        "open and save it in Excel to repair it"
    )
