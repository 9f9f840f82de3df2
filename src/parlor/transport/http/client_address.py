"""The client's address, for per-address limits.

The peer's address, unless it is a trusted proxy (PARLOR_TRUSTED_PROXIES): then the
composition root has already put X-Forwarded-For's client in its place (uvicorn's
ProxyHeadersMiddleware, in `parlor.app`), and nothing here reads that header.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


ClientAddress = Annotated[str | None, Depends(client_address)]
