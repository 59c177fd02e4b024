"""Error types that the CLI turns into one clear message and an exit code."""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """Bad usage or bad input: the CLI prints the message and exits with code 2."""

    exit_code = 2


class DataError(UserError):
    """Malformed or missing input data, located by file (and line when known)."""

    def __init__(self, path: str | Path, message: str, line: int | None = None, expected: str | None = None):
        self.path = Path(path)
        self.line = line
        self.message = message
        self.expected = expected
        where = f"{path}" + (f", line {line}" if line is not None else "")
        text = f"{where}: {message}"
        if expected:
            text += f" (expected {expected})"
        super().__init__(text)


class SampleError(Exception):
    """A problem with one sample (e.g. a corrupt image): recorded per sample, never fatal."""
