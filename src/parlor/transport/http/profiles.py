"""HTTP routes: profiles."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["profiles"])
