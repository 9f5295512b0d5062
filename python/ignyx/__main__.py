"""``python -m ignyx``: the ``ignyx`` command."""

from .cli import main

main()
