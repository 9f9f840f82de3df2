"""HTTP routes: notifications."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["notifications"])
