"""HTTP routes: your_data."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["your_data"])
