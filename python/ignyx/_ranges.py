"""The ``Range`` header of a request for part of a file, read as Starlette reads it::

    parse_ranges("bytes=0-99, -50", size=1000)   # [(0, 100), (950, 1000)]

Each range is ``(start, end)`` with `end` excluded; overlapping ranges are merged.
"""

from __future__ import annotations

# More ranges than this in one header are ignored: the whole file is sent.
MAX_RANGES = 100


class MalformedRange(ValueError):
    """The header cannot be read as byte ranges: answered 400 with the message as body."""

    def __init__(self, message: str = "Malformed range header.") -> None:
        super().__init__(message)
        self.message = message


class RangeNotSatisfiable(ValueError):
    """A range starts past the end of the file: answered 416."""

    def __init__(self, size: int) -> None:
        super().__init__(f"bytes */{size}")
        self.size = size


def _one_range(spec: str, size: int) -> tuple[int, int] | None:
    """``start-end``, ``start-`` or ``-suffix`` as ``(start, end)``; None if unreadable."""
    first, dash, last = spec.partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not (first or last):
        return None
    try:
        if not first:
            return max(size - int(last), 0), size
        start = int(first)
        end = int(last) + 1 if last and int(last) < size else size
    except ValueError:
        return None
    return start, end


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def parse_ranges(header: str, size: int) -> list[tuple[int, int]]:
    """The byte ranges `header` asks of a file of `size` bytes; ``[]`` means the whole file.

    Raises ``MalformedRange`` or ``RangeNotSatisfiable``.
    """
    unit, equals, specs = header.partition("=")
    if not equals:
        raise MalformedRange()
    if unit.strip().lower() != "bytes":
        raise MalformedRange("Only support bytes range")
    parts = specs.split(",")
    if len(parts) > MAX_RANGES:
        return []
    ranges = [r for r in (_one_range(part, size) for part in parts) if r is not None]
    if not ranges:
        raise MalformedRange("Range header: range must be requested")
    if any(not 0 <= start < size for start, _ in ranges):
        raise RangeNotSatisfiable(size)
    if any(start >= end for start, end in ranges):
        raise MalformedRange("Range header: start must be less than end")
    return ranges if len(ranges) == 1 else _merged(ranges)
