"""Middleware configured in Python and run by the Rust engine."""

from .cors import CORSMiddleware

__all__ = ["CORSMiddleware"]
