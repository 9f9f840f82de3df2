"""schemathesis against `/openapi.json` of a live server, every check on: as a signed-in
member and anonymously, over 1,000 generated requests in all. No 5xx, no answer that
breaks the document (its codes, content types, bodies), no `Allow`-less 405.

The run is seeded (reproducible) and uses real ids (a live room, people, an invite, a
waitlist token) part of the time, so generated requests reach past "not found". The
document cannot say everything a field must be (a title of only spaces, a username
that is taken), so a schema-valid request may be refused: besides the usual codes,
400 and 410 count as an answer to valid data, as 401/403/404/409/429 already do.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member

# Per run: the phases and the examples per operation. As a member, the coverage phase
# (boundaries and each kind of wrong value, ~1,500 cases for ~80 operations) and some
# fuzzing; anonymously, where nearly everything is a quick 401, fuzzing only.
RUNS = {
    "member": ("examples,coverage,fuzzing", 3),
    "anonymous": ("fuzzing", 4),
}
MIN_CASES = 1000
MIN_ANONYMOUS, MIN_MEMBER = 200, 800
SEED = 20260101
RUN = "from schemathesis.cli import schemathesis; schemathesis()"

CONFIG = """
[cache]
enabled = false

# Methods a route does not have, tried on each route: 405 with `Allow`.
[phases.coverage]
unexpected-methods = ["PATCH", "DELETE"]

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "410", "429"]

[dictionaries.rooms]
values = {rooms}
[dictionaries.people]
values = {people}
[dictionaries.user_ids]
values = {user_ids}
[dictionaries.invites]
values = {invites}
[dictionaries.waitlist_tokens]
values = {waitlist_tokens}

[parameters]
"path.room_id" = {{ dictionary = "rooms", probability = 0.6 }}
"body.room_id" = {{ dictionary = "rooms", probability = 0.6 }}
"path.who" = {{ dictionary = "people", probability = 0.5 }}
"path.user_id" = {{ dictionary = "user_ids", probability = 0.5 }}
"path.target_id" = {{ dictionary = "user_ids", probability = 0.5 }}
"body.user_id" = {{ dictionary = "user_ids", probability = 0.5 }}
"body.username" = {{ dictionary = "people", probability = 0.3 }}
"path.invite_id" = {{ dictionary = "invites", probability = 0.5 }}
"header.X-Waitlist-Token" = {{ dictionary = "waitlist_tokens", probability = 0.5 }}
"""


async def seed(server: LiveServer) -> tuple[str, dict[str, list[str]]]:
    """A member (the fuzzer's token), someone else, a live room of the member's, an
    ended room, an invite and a waitlist entry."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        other_id, other_token = await make_member(server, http, "other")
    async with httpx.AsyncClient(base_url=server.url) as http:
        fuzzer_id, token = await make_member(server, http, "fuzzer")
        http.headers["Authorization"] = f"Bearer {token}"
        ended = (await http.post("/api/rooms", json={"title": "Over"})).json()["id"]
        assert (await http.post(f"/api/rooms/{ended}/end")).status_code == 200
        live = (await http.post("/api/rooms", json={"title": "Fuzzed"})).json()["id"]
        joined = await http.post(f"/api/rooms/{live}/join", headers={"Authorization": f"Bearer {other_token}"})
        assert joined.status_code == 200, joined.text
        invite = (await http.post("/api/invites")).json()["id"]
        del http.headers["Authorization"]
        waiting = await http.post("/api/waitlist", json={"username": "waiting", "display_name": "Waiting"})
        assert waiting.status_code == 201, waiting.text
    values = {
        "rooms": [live, ended],
        "people": ["fuzzer", "other", "root"],
        "user_ids": [fuzzer_id, other_id],
        "invites": [invite],
        "waitlist_tokens": [waiting.json()["token"]],
    }
    return token, values


async def run_schemathesis(
    server: LiveServer, config: Path, report: Path, who: str, headers: list[str], exclude: list[str]
) -> tuple[int, str]:
    phases, examples = RUNS[who]
    args = [
        "--config-file", str(config), "run", f"{server.url}/openapi.json",
        "--checks", "all",
        "--phases", phases,
        "--max-examples", str(examples),
        "--seed", str(SEED),
        # One worker each (hypothesis is not thread-safe on Python 3.11: ast.parse in
        # lambda descriptions); the two runs go side by side instead.
        "--workers", "1",
        "--request-timeout", "20",
        "--report", "ndjson", "--report-ndjson-path", str(report),
        "--no-color",
    ]  # fmt: skip
    for header in headers:
        args += ["--header", header]
    for path in exclude:
        args += ["--exclude-path", path]
    # A subprocess: the server runs in this event loop and must keep serving meanwhile.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", RUN, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


def cases_run(report: Path) -> int:
    """Requests schemathesis sent, from its event log."""
    total = 0
    for line in report.read_text().splitlines():
        event: dict[str, Any] = json.loads(line)
        for name, body in event.items():
            if name == "ScenarioFinished":
                total += len(body.get("recorder", {}).get("interactions", {}))
    return total


async def test_schemathesis_finds_no_server_error_and_no_broken_answer(tmp_path: Path) -> None:
    async with live_server(make_settings(tmp_path / "data")) as server:
        token, values = await seed(server)
        config = tmp_path / "schemathesis.toml"
        config.write_text(CONFIG.format(**{name: json.dumps(v) for name, v in values.items()}))
        runs = {
            # Signing out would end the fuzzer's session half way through.
            "member": ([f"Authorization: Bearer {token}"], ["/api/logout"]),
            "anonymous": ([], []),
        }
        results = await asyncio.gather(
            *(
                run_schemathesis(server, config, tmp_path / f"{who}.ndjson", who, headers, exclude)
                for who, (headers, exclude) in runs.items()
            )
        )
    for who, (code, output) in zip(runs, results, strict=True):
        assert code == 0, f"{who}:\n{output[-6000:]}"
    counts = {who: cases_run(tmp_path / f"{who}.ndjson") for who in runs}
    # Each run its share too: one run cut short must not hide behind the other's cases.
    assert counts["anonymous"] >= MIN_ANONYMOUS and counts["member"] >= MIN_MEMBER, counts
    assert sum(counts.values()) >= MIN_CASES, counts
