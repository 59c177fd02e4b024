"""Load untrusted pickles (e.g. RefCOCOg's ``refs(umd).p``) admitting only plain data.

A pickle is a program: opcodes such as GLOBAL/STACK_GLOBAL import any callable and REDUCE
calls it, so ``pickle.load`` on a downloaded file can run arbitrary code. Every import in
the C unpickler goes through ``find_class`` (including the copyreg extension opcodes), so
refusing all of them leaves only the opcodes that build containers and scalars. After
loading, the result is walked to make sure it holds nothing but dict, list, tuple, str,
bytes, int, float, bool and None (sets and bytearrays, which need no import, are refused
too). Python 2 ``str`` objects are decoded as UTF-8, as the RefCOCO pickles need.

One import is admitted: Python 3 writes ``bytes`` under protocols 0-2 as a call of
``_codecs.encode(text, "latin1")``; that name resolves to a function that only accepts
exactly those arguments and returns the bytes.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from .errors import DataError

ALLOWED_TYPES = (dict, list, tuple, str, bytes, int, float, bool, type(None))
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
EXPECTED = "a pickle of plain containers and scalars (dict, list, tuple, str, bytes, int, float, bool, None)"


class _Refused(Exception):
    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


def _latin1_bytes(text: Any, encoding: Any = None) -> bytes:
    if not isinstance(text, str) or encoding != "latin1":
        raise _Refused(f"_codecs.encode with arguments other than (str, 'latin1'): {type(text).__name__}, {encoding!r}")
    return text.encode("latin1")


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:  # noqa: D401 - pickle API
        if (module, name) == ("_codecs", "encode"):
            return _latin1_bytes
        raise _Refused(f"{module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused(f"persistent object {pid!r}")


def loads_plain(data: bytes, path: str | Path = "<bytes>") -> Any:
    """Unpickle ``data`` (protocols 0-5) allowing plain data only; anything else is a DataError."""
    try:
        obj = _PlainUnpickler(io.BytesIO(data), encoding="utf-8").load()
    except _Refused as exc:
        raise DataError(
            path, f"refused: the pickle tried to construct {exc.what}; only plain data is loaded", expected=EXPECTED
        ) from None
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, UnicodeDecodeError, MemoryError, RecursionError) as exc:
        raise DataError(path, f"not a readable pickle (truncated or corrupt: {type(exc).__name__}: {exc})",
                        expected=EXPECTED) from None
    _check_plain(obj, path)
    return obj


def load_plain(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Read and unpickle a file with :func:`loads_plain`, refusing files above ``max_bytes``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "not found", expected=EXPECTED)
    size = path.stat().st_size
    if size > max_bytes:
        raise DataError(path, f"{size} bytes is larger than the {max_bytes}-byte limit for a pickle", expected=EXPECTED)
    return loads_plain(path.read_bytes(), path)


def _check_plain(obj: Any, path: str | Path) -> None:
    """Iterative walk (no recursion limit) rejecting any object outside ALLOWED_TYPES."""
    stack = [obj]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if type(item) not in ALLOWED_TYPES:
            raise DataError(path, f"refused: the pickle holds a {type(item).__name__}; only plain data is loaded",
                            expected=EXPECTED)
        if isinstance(item, (dict, list, tuple)):
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
            else:
                stack.extend(item)
