"""Reading the JSON, JSON-Lines and CSV files of real benchmark layouts with located errors."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import DataError


def require(path: Path, expected: str) -> Path:
    """Return ``path`` if it exists, else a DataError describing the layout that was expected."""
    if not path.exists():
        raise DataError(path, "not found", expected=expected)
    return path


def require_file(path: Path, expected: str) -> Path:
    """Like :func:`require`, and refuse a folder where a file is expected."""
    require(path, expected)
    if not path.is_file():
        raise DataError(path, "not a file", expected=expected)
    return path


def read_json(path: Path, expected: str = "a JSON document") -> Any:
    """Parse a JSON file (a UTF-8 byte-order mark is allowed); errors name the file and line."""
    require_file(path, expected)
    try:
        with path.open(encoding="utf-8-sig") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON: {exc.msg}", line=exc.lineno, expected=expected) from exc
    except UnicodeDecodeError as exc:
        raise DataError(path, "not UTF-8 text", expected=expected) from exc
    except (ValueError, RecursionError) as exc:  # an integer of > 4300 digits, nesting beyond the stack
        raise DataError(path, f"unreadable JSON ({type(exc).__name__}: {exc})", expected=expected) from exc


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file read as bytes, so a bad byte is reported with its line."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(path, "not UTF-8 text", line=lineno) from exc


ONE_OBJECT = "one JSON object over several lines, not one object per line"


def iter_jsonl(path: Path, expected: str = "one JSON object per line") -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; a bad line raises naming file and line.

    A file that is one JSON array of objects instead (pretty-printed, or converted by a tool that
    writes arrays) is read too, each object with the line it starts on.
    """
    require_file(path, expected)
    first = True
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        if first and line.lstrip().startswith("["):
            yield from _iter_json_array(path, expected)
            return
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if first and line.lstrip().startswith("{") and _one_object(path):
                raise DataError(path, ONE_OBJECT, line=lineno, expected=expected) from exc
            raise DataError(path, f"not valid JSON ({exc.msg})", line=lineno, expected=expected) from exc
        except (ValueError, RecursionError) as exc:
            raise DataError(path, f"unreadable JSON ({type(exc).__name__}: {exc})", line=lineno,
                            expected=expected) from exc
        first = False
        if not isinstance(obj, dict):
            raise DataError(path, f"a JSON {type(obj).__name__}, not an object", line=lineno, expected=expected)
        yield lineno, obj


def _one_object(path: Path) -> bool:
    """Whether the whole file is one (pretty-printed) JSON object: a results.json given for a
    samples file, say, which deserves a better message than "line 1: not valid JSON"."""
    try:
        with path.open(encoding="utf-8-sig") as fh:
            return isinstance(json.load(fh), dict)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return False


def _iter_json_array(path: Path, expected: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The objects of a file holding one JSON array, each with the line its text starts on."""
    text = "".join(line for _, line in _lines(path))
    decoder = json.JSONDecoder()
    seen = [0, 1]  # an offset and its line number: offsets only grow, so lines are counted once

    def line_at(pos: int) -> int:
        at, line = seen if pos >= seen[0] else (0, 1)
        seen[:] = [pos, line + text.count("\n", at, pos)]
        return seen[1]

    last = len(text.rstrip())  # an error at the end of the file is on its last line with text

    def fail(what: str, pos: int) -> DataError:
        return DataError(path, what, line=line_at(min(pos, last)), expected=expected)

    def skip(pos: int) -> int:
        return _BLANK.match(text, pos).end()

    pos = skip(skip(0) + 1)  # after the "["
    if text[pos:pos + 1] == "]":
        pos += 1
    else:
        while True:
            if pos >= len(text):
                raise fail("the JSON array is not closed", pos)
            try:
                obj, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise fail(f"not valid JSON ({exc.msg})", exc.pos) from exc
            except (ValueError, RecursionError) as exc:
                raise fail(f"unreadable JSON ({type(exc).__name__}: {exc})", pos) from exc
            if not isinstance(obj, dict):
                raise fail(f"an array element is a JSON {type(obj).__name__}, not an object", pos)
            yield line_at(pos), obj
            pos = skip(end)
            if pos >= len(text):
                raise fail("the JSON array is not closed", pos)
            sep = text[pos:pos + 1]
            if sep not in (",", "]"):
                raise fail("expected ',' or ']' after an array element", pos)
            pos = skip(pos + 1)
            if sep == "]":
                break
    if skip(pos) < len(text):
        raise fail("text after the end of the JSON array", skip(pos))


_BLANK = re.compile(r"[ \t\r\n]*")


def iter_csv(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) with the required columns checked in the header and every row.

    A byte-order mark, CRLF line ends, extra columns and rows that are entirely empty (blank
    lines, a spreadsheet's trailing ",,,") are accepted; empty values past the header's last
    column are ignored.
    """
    expected = "CSV with columns " + ", ".join(columns)
    require_file(path, expected)
    last = [0]  # the physical line the csv reader has reached (a record may span lines)

    def numbered() -> Iterator[str]:
        for last[0], line in _lines(path):
            yield line

    reader = csv.DictReader(numbered())
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
        absent = [c for c in columns if c not in header]
        if absent:
            raise DataError(path, f"header lacks {', '.join(absent)}", line=1, expected=expected)
        reader.fieldnames = header
        for row in reader:
            lineno = last[0]
            extra = row.pop(None, None) or []
            if all(not (v or "").strip() for v in row.values()) and not any(v.strip() for v in extra):
                continue
            if any(row.get(c) is None for c in columns) or any(v.strip() for v in extra):
                raise DataError(path, "wrong number of fields", line=lineno, expected=expected)
            yield lineno, {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
    except csv.Error as exc:
        raise DataError(path, f"not a readable CSV ({exc})", line=last[0], expected=expected) from exc


_JSON_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
               list: "a list", dict: "an object", type(None): "null"}


def _json_name(kind: type) -> str:
    return _JSON_NAMES.get(kind, kind.__name__)


def field(obj: dict[str, Any], key: str, path: Path, line: int | None, kind: type | tuple[type, ...]) -> Any:
    """obj[key] checked for presence and type, with a located error otherwise (a bool is no integer)."""
    if key not in obj:
        raise DataError(path, f"missing key {key!r}", line=line)
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(_json_name(k) for k in kinds if not (k is int and float in kinds))
        raise DataError(path, f"{key!r} is {_json_name(type(value))}", line=line, expected=names)
    return value


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are files like any other
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def files_fingerprint(base: Path, files: Sequence[Path], salt: str = "") -> str:
    """Hash of the files' names (relative to ``base``), sizes and modification times."""
    h = hashlib.sha256(salt.encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(base)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]
