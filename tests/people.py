"""The people tests sign up: one admin, members with a shared test password."""

from __future__ import annotations

from typing import Any

ADMIN = {"username": "root", "display_name": "Root", "password": "correct horse"}
MEMBER_PASSWORD = "hunter2hunter2"


def setup_body(token: str | None) -> dict[str, Any]:
    return {"token": token, **ADMIN}


def signup_body(invite_code: str, username: str) -> dict[str, Any]:
    return {
        "invite_code": invite_code,
        "username": username,
        "display_name": username.title(),
        "password": MEMBER_PASSWORD,
    }
