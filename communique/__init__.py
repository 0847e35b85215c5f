"""Communiqué: a knowledge-graph publisher for diplomacy news."""

__version__ = "0.1.0"
