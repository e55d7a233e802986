"""Pydantic models for HTTP bodies, one module per resource."""
