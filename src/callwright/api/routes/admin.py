"""Operator API (``/admin/v1``), authenticated by ``CALLWRIGHT_ADMIN_TOKEN``."""

from __future__ import annotations

from fastapi import APIRouter

from callwright.api.deps import AdminDep

router = APIRouter(tags=["admin"], dependencies=[AdminDep])
