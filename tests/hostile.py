"""Hostile and broken input files, built byte by byte for the hardening tests.

Each builder produces what an attacker or a broken export really could: OLE2
containers (a legacy .xls, a password-protected workbook), zip and XML bombs,
sheets whose dimension tag lies, macro-enabled packages. Only the standard
library is used, so the files are exactly what the bytes say.
"""

from __future__ import annotations

import random
import struct
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
SHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
XLSX_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
XLSM_CT = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"

# --------------------------------------------------------------------------- OLE2 (CFB v3)

OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
SECTOR = 512
FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
MINI_CUTOFF = 4096  # smaller streams would live in the mini stream; padding keeps them out


def _dir_entry(
    name: str,
    kind: int,
    child: int = NOSTREAM,
    right: int = NOSTREAM,
    start: int = 0,
    size: int = 0,
) -> bytes:
    raw = name.encode("utf-16-le") + b"\0\0" if name else b""
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        raw.ljust(64, b"\0"),
        len(raw),
        kind,
        1,  # black
        NOSTREAM,
        right,
        child,
        b"\0" * 16,
        0,
        0,
        0,
        start,
        size,
    )


def compound_file(streams: Mapping[str, bytes]) -> bytes:
    """A minimal but valid OLE2 compound file (CFB version 3) with `streams` at its root."""
    names = sorted(streams, key=lambda n: (len(n), n.upper()))
    bodies = [streams[n].ljust(MINI_CUTOFF, b"\0") for n in names]
    n_dir = (len(names) + 1 + 3) // 4
    fat: list[int] = [FATSECT]
    fat += [i + 2 if i + 1 < n_dir else ENDOFCHAIN for i in range(n_dir)]
    starts = []
    for body in bodies:
        count = -(-len(body) // SECTOR)
        first = len(fat)
        starts.append(first)
        fat += [first + i + 1 for i in range(count - 1)] + [ENDOFCHAIN]
    assert len(fat) <= SECTOR // 4, "one FAT sector is enough for test files"
    entries = [_dir_entry("Root Entry", 5, child=1 if names else NOSTREAM, start=ENDOFCHAIN)]
    for i, (name, body, start) in enumerate(zip(names, bodies, starts, strict=True), start=1):
        right = i + 1 if i < len(names) else NOSTREAM
        entries.append(_dir_entry(name, 2, right=right, start=start, size=len(body)))
    while len(entries) % 4:
        entries.append(_dir_entry("", 0))
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        OLE2_MAGIC,
        b"\0" * 16,
        0x3E,
        3,
        0xFFFE,
        9,
        6,
        b"\0" * 6,
        0,
        1,  # one FAT sector
        1,  # the directory starts at sector 1
        0,
        MINI_CUTOFF,
        ENDOFCHAIN,
        0,
        ENDOFCHAIN,
        0,
    )
    header += struct.pack("<109I", 0, *([FREESECT] * 108))
    fat_sector = struct.pack(f"<{SECTOR // 4}I", *fat, *([FREESECT] * (SECTOR // 4 - len(fat))))
    out = header + fat_sector + b"".join(entries)
    for body in bodies:
        out += body.ljust(-(-len(body) // SECTOR) * SECTOR, b"\0")
    return out


def legacy_xls() -> bytes:
    """An Excel 97-2003 (.xls, BIFF8) file: a `Workbook` stream starting with a BOF record."""
    bof = struct.pack("<HHHHHHII", 0x0809, 16, 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0x06)
    eof = struct.pack("<HH", 0x000A, 0)
    return compound_file({"Workbook": bof + eof})


def encrypted_workbook() -> bytes:
    """A password-protected .xlsx as Excel saves it: an OLE2 file with an encrypted package."""
    info_xml = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption">'
        b'<keyData saltSize="16" blockSize="16" keyBits="256" hashSize="64" '
        b'cipherAlgorithm="AES" cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512"/>'
        b"</encryption>"
    )
    rng = random.Random(5)
    package = struct.pack("<Q", 6000) + bytes(rng.getrandbits(8) for _ in range(6000))
    return compound_file(
        {
            "EncryptionInfo": struct.pack("<HHI", 4, 4, 0x40) + info_xml,
            "EncryptedPackage": package,
        }
    )


# --------------------------------------------------------------------------- xlsx from raw XML


def _cell(ref: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def _letter(i: int) -> str:
    out = ""
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def sheet_rows_xml(rows: Iterable[Sequence[Any]], start: int = 1) -> str:
    """`<row>` elements for rows of plain values (None = no cell); raw XML strings pass through."""
    out = []
    for r, row in enumerate(rows, start=start):
        cells = "".join(
            v.xml if isinstance(v, Raw) else _cell(f"{_letter(j)}{r}", v)
            for j, v in enumerate(row, start=1)
        )
        out.append(f'<row r="{r}">{cells}</row>')
    return "".join(out)


class Raw:
    """A cell given as raw XML, e.g. `<c r="C2"><f>B2*2</f></c>` (a formula with no saved value)."""

    def __init__(self, xml: str) -> None:
        self.xml = xml


def worksheet_xml(
    rows_xml: str, dimension: str | None = None, after: str = "", before: str = ""
) -> str:
    """A worksheet part around ready-made `<row>` elements."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">{dim}{before}'
        f"<sheetData>{rows_xml}</sheetData>{after}</worksheet>"
    )


def package_parts(
    sheets: Sequence[str], states: Mapping[str, str] | None = None, workbook_pr: str = ""
) -> dict[str, str]:
    """Every part of a minimal .xlsx except the worksheets (xl/worksheets/sheet{i}.xml)."""
    states = states or {}
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{SHEET_CT}"/>'
        for i in range(1, len(sheets) + 1)
    )
    sheet_list = "".join(
        f'<sheet name="{escape(name)}" sheetId="{i}" state="{states.get(name, "visible")}" '
        f'r:id="rId{i}"/>'
        for i, name in enumerate(sheets, start=1)
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Target="worksheets/sheet{i}.xml" Type="{REL_NS}/worksheet"/>'
        for i in range(1, len(sheets) + 1)
    )
    return {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{XLSX_CT}"/>{overrides}</Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL_NS}">'
            f'<Relationship Id="rId1" Target="xl/workbook.xml" Type="{REL_NS}/officeDocument"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN_NS}" '
            f'xmlns:r="{REL_NS}">{workbook_pr}<sheets>{sheet_list}</sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL_NS}">'
            f"{rels}</Relationships>"
        ),
    }


def raw_xlsx(
    path: Path,
    sheets: Mapping[str, str],
    states: Mapping[str, str] | None = None,
    workbook_pr: str = "",
) -> Path:
    """Write an .xlsx whose worksheets are the given XML strings (sheet name -> worksheet XML)."""
    parts = package_parts(list(sheets), states, workbook_pr)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)
        for i, xml in enumerate(sheets.values(), start=1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", xml)
    return path


def tables_to_sheets(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, str]:
    """Input tables (as in tests/conftest.py) as worksheet XML, header in row 1."""
    out = {}
    for sheet, rows in tables.items():
        header: list[str] = []
        for row in rows:
            header.extend(k for k in row if k not in header)
        body: list[list[Any]] = [list(header), *([row.get(k) for k in header] for row in rows)]
        out[sheet] = worksheet_xml(sheet_rows_xml(body))
    return out


# --------------------------------------------------------------------------- bombs

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n'
    '<!DOCTYPE worksheet [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
    f'<worksheet xmlns="{MAIN_NS}"><sheetData><row r="1">'
    '<c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
)


def padded_sheet_bomb(path: Path, expanded_bytes: int, sheets: Sequence[str] = ("Offers",)) -> Path:
    """A real xlsx whose first sheet is valid XML padded with whitespace to `expanded_bytes`.

    Whitespace deflates about 1000:1, so a few hundred kB on disk expand to
    hundreds of MB: the shape of a zip bomb inside an otherwise normal package.
    """
    parts = package_parts(list(sheets))
    chunk = b" " * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, text in parts.items():
            z.writestr(name, text)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(f'<worksheet xmlns="{MAIN_NS}"><sheetData/>'.encode())
            left = expanded_bytes
            while left > 0:
                f.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
            f.write(b"</worksheet>")
        for i in range(2, len(sheets) + 1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", worksheet_xml(""))
    return path


def million_row_sheet(path: Path, rows: int, dimension: str = "A1:C3") -> Path:
    """An Offers-like sheet with `rows` data rows whose dimension tag claims three rows.

    The sheet XML is streamed into the zip in chunks, so writing it takes about
    a second and little memory.
    """
    parts = package_parts(["Offers"])
    head = f'<worksheet xmlns="{MAIN_NS}"><dimension ref="{dimension}"/><sheetData>'
    header = sheet_rows_xml([["supplier", "material", "price_usd_per_kg"]])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, text in parts.items():
            z.writestr(name, text)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write((head + header).encode())
            step = 20_000
            for first in range(2, rows + 2, step):
                block = "".join(
                    f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>S{r}</t></is></c>'
                    f'<c r="B{r}" t="inlineStr"><is><t>Ga</t></is></c>'
                    f'<c r="C{r}"><v>{r % 97}.5</v></c></row>'
                    for r in range(first, min(first + step, rows + 2))
                )
                f.write(block.encode())
            f.write(b"</sheetData></worksheet>")
    return path


# --------------------------------------------------------------------------- edits of real files


def rewrite_zip(
    src: Path,
    dst: Path,
    add: Mapping[str, bytes | str] | None = None,
    edit: Callable[[str, bytes], bytes] | None = None,
) -> Path:
    """Copy an .xlsx member by member, editing some members and adding others."""
    add = add or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, edit(info.filename, data) if edit else data)
        for name, extra in add.items():
            zout.writestr(name, extra)
    return dst


VBA_SOURCE = (
    b'Attribute VB_Name = "ThisWorkbook"\r\n'
    b"Private Sub Workbook_Open()\r\n"
    b'    Shell "cmd /c echo pwned > pwned.txt"\r\n'
    b"End Sub\r\n"
)


def make_xlsm(src: Path, dst: Path) -> Path:
    """A macro-enabled copy of a workbook: a VBA project with an auto-run macro."""

    def edit(name: str, data: bytes) -> bytes:
        text = data.decode()
        if name == "[Content_Types].xml":
            text = text.replace(XLSX_CT, XLSM_CT).replace(
                "</Types>",
                '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
                "</Types>",
            )
        elif name == "xl/_rels/workbook.xml.rels":
            text = text.replace(
                "</Relationships>",
                '<Relationship Id="rIdVba" Target="vbaProject.bin" '
                'Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject"/>'
                "</Relationships>",
            )
        return text.encode()

    vba = compound_file({"PROJECT": b'Name="VBAProject"\r\n', "ThisWorkbook": VBA_SOURCE})
    return rewrite_zip(src, dst, add={"xl/vbaProject.bin": vba}, edit=edit)


def add_external_link(src: Path, dst: Path) -> Path:
    """A copy of a workbook that links to another workbook on a file share."""
    link = (
        f'<?xml version="1.0" encoding="UTF-8"?><externalLink xmlns="{MAIN_NS}" '
        f'xmlns:r="{REL_NS}"><externalBook r:id="rId1"><sheetNames><sheetName val="Prices"/>'
        "</sheetNames></externalBook></externalLink>"
    )
    rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL_NS}">'
        '<Relationship Id="rId1" TargetMode="External" Target="file:///\\\\share\\prices.xlsx" '
        f'Type="{REL_NS}/externalLinkPath"/></Relationships>'
    )
    return rewrite_zip(
        src,
        dst,
        add={
            "xl/externalLinks/externalLink1.xml": link,
            "xl/externalLinks/_rels/externalLink1.xml.rels": rels,
        },
    )
