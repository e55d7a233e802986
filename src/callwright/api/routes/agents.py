"""Agents: create, list, get, update, delete, and the voice catalog."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["agents"])
