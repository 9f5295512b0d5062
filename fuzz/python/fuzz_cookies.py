"""Coverage-guided differential fuzzing of Ignyx's ``Cookie`` header parser against
Starlette's, with atheris (the check is in ``check_cookies.py``)::

    .venv/bin/python fuzz/python/fuzz_cookies.py CORPUS_DIR fuzz/regressions/python_cookies \\
        -max_total_time=60 -artifact_prefix=CRASH_DIR/

libFuzzer's flags pass through. A disagreement raises AssertionError: atheris prints it and
writes the input as ``crash-<sha1>`` (under -artifact_prefix); keep it in
``fuzz/regressions/python_cookies/``, where ``tests/test_fuzz_regressions.py`` replays it.
"""

from __future__ import annotations

import sys


def main() -> None:
    import atheris  # type: ignore[import-untyped]  # no stubs

    with atheris.instrument_imports(include=["ignyx.requests", "http.cookies"]):
        import check_cookies

    def test_one_input(data: bytes) -> None:
        check_cookies.check(data)
        # And whatever text atheris makes of the bytes (ASCII, UTF-16 or UTF-32 code points).
        provider = atheris.FuzzedDataProvider(data)
        check_cookies.check_text(provider.ConsumeUnicode(len(data)))

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
