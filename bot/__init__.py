"""Ambient: a self-hostable GitHub App that proposes, verifies and publishes code fixes."""

__version__ = "0.1.0"
__all__ = ["__version__"]
