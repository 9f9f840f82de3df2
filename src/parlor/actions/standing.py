"""Whether an account may be used now: sign-in refuses a suspended or banned person.

Its own module, below accounts.py (which calls it) and sanctions.py (which changes it).
"""

from __future__ import annotations

import time

from parlor.actions.services import Services
from parlor.domain.users import User
from parlor.errors import Code, SanctionedError
from parlor.storage import sanctions as store
from parlor.storage.sanctions import Sanction


def refusal(sanction: Sanction) -> SanctionedError:
    """The error that tells a sanctioned person why they cannot sign in, and until when."""
    if sanction.kind == "ban":
        return SanctionedError(Code.BANNED, "This account is banned from this instance.", None)
    assert sanction.until is not None
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(sanction.until))
    return SanctionedError(Code.SUSPENDED, f"This account is suspended until {when}.", sanction.until)


async def check_standing(s: Services, user: User) -> None:
    """Raise `403 suspended` (with `until`) or `403 banned` if the account may not sign in."""
    async with s.db.engine.connect() as conn:
        sanction = await store.current(conn, user.id, s.clock())
    if sanction is not None:
        raise refusal(sanction)
