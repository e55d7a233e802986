"""Callwright: a self-hostable platform for AI phone agents."""

__version__ = "0.1.0"
