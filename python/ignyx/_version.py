"""The version of Ignyx (also the package metadata's, in pyproject.toml)."""

__version__ = "0.1.0"
