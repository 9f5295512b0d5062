"""Coverage-guided differential fuzzing of Ignyx's form parsing (``parse_form``: urlencoded
and multipart) against Starlette's ``request.form()``, with atheris (the check and the input
format are in ``check_forms.py``)::

    .venv/bin/python fuzz/python/fuzz_forms.py CORPUS_DIR fuzz/regressions/python_forms \\
        -max_total_time=60 -artifact_prefix=CRASH_DIR/

libFuzzer's flags pass through (``-dict`` defaults to ``forms.dict``, next to this script).
A disagreement raises AssertionError, an unexpected exception escapes: atheris prints it and
writes the input as ``crash-<sha1>`` (under -artifact_prefix); keep it in
``fuzz/regressions/python_forms/``, where ``tests/test_fuzz_regressions.py`` replays it.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def main() -> None:
    import atheris  # type: ignore[import-untyped]  # no stubs

    # Coverage of both sides guides the fuzzer: Ignyx's parser, the python-multipart
    # parser both use, and Starlette's callbacks.
    with atheris.instrument_imports(
        include=[
            "ignyx.formparsers",
            "ignyx.datastructures",
            "python_multipart",
            "starlette.formparsers",
        ]
    ):
        import check_forms

    # The words of the input format and of form bodies, unless given another -dict.
    if not any(arg.startswith("-dict=") for arg in sys.argv):
        sys.argv.append(f"-dict={Path(__file__).with_name('forms.dict')}")
    # python-multipart logs every malformed body it refuses: noise here, and slow.
    logging.getLogger("python_multipart").setLevel(logging.CRITICAL)
    atheris.Setup(sys.argv, check_forms.check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
