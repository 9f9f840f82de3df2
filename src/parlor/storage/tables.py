"""The schema, as SQLAlchemy Core tables. Alembic migrations create it."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    # Stored lower-cased: usernames are case-insensitive.
    sa.Column("username", sa.String(30), nullable=False, unique=True),
    sa.Column("display_name", sa.String(50), nullable=False),
    # argon2id, in PHC string format; never the password.
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("invited_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

# Browser sessions and bearer tokens: only a SHA-256 of the secret is stored.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("secret_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),  # "cookie" | "bearer"
    sa.Column("name", sa.String(60), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True),
    # added by migration 0007 (account safety): the id the API names a session or token by
    # (never the secret's hash); always set, though nullable in the schema (as invites.id)
    sa.Column("id", sa.String(32), nullable=True),
    # when it was last used, written at most hourly (domain/sessions.py TOUCH_INTERVAL_S),
    # and a coarse client label ("Firefox on Linux"): never the User-Agent, never an address
    sa.Column("last_used_at", sa.Float, nullable=True),
    sa.Column("client", sa.String(40), nullable=True),
    sa.Index("ix_sessions_id", "id", unique=True),
)

invites = sa.Table(
    "invites",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("created_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("used_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("used_at", sa.Float, nullable=True),
    sa.Column("revoked_at", sa.Float, nullable=True),
    # added by migration 0003 (growth), see there; always set, though nullable in the schema
    sa.Column("id", sa.String(32), nullable=True),
    sa.Column("via", sa.String(10), nullable=True),
    sa.Index("ix_invites_id", "id", unique=True),
    sa.Index("ix_invites_created_by", "created_by", "created_at"),
)

# Instance-wide facts, e.g. the hash of the one-time setup token.
instance = sa.Table(
    "instance",
    metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

rooms = sa.Table(
    "rooms",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("title", sa.String(120), nullable=False),
    sa.Column("created_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float, nullable=True),
    # added by migration 0015: end-to-end encrypted for its whole life (docs/E2EE.md)
    sa.Column("encrypted", sa.Boolean, nullable=False, server_default=sa.false()),
    # added by migration 0009: the rooms someone hosted (the admins' person page)
    sa.Index("ix_rooms_created_by", "created_by", "created_at"),
)

# "A user blocked by a moderator cannot join that moderator's rooms."
room_blocks = sa.Table(
    "room_blocks",
    metadata,
    sa.Column("moderator_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("blocked_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("actor_id", sa.String(32), nullable=True),
    sa.Column("room_id", sa.String(32), nullable=True, index=True),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("target_id", sa.String(32), nullable=True),
)

# -- the social layer (migration 0002) ------------------------------------------------
# Besides these tables' indexes, 0002 adds prefix-search indexes on users:
# `username` and `(lower(display_name), username)`, in code point order (COLLATE "C" on PostgreSQL,
# SQLite's default BINARY), so that a prefix is one index range (storage/social.py).

follows = sa.Table(
    "follows",
    metadata,
    sa.Column("follower_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("followee_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
    # followers of X, newest first, and follower counts
    sa.Index("ix_follows_followee", "followee_id", "created_at", "follower_id"),
    # whom X follows, newest first
    sa.Index("ix_follows_follower", "follower_id", "created_at", "followee_id"),
)

user_blocks = sa.Table(
    "user_blocks",
    metadata,
    sa.Column("blocker_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("blocked_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
    # "who blocked me": search and joins check both directions
    sa.Index("ix_user_blocks_blocked", "blocked_id", "blocker_id"),
)

# -- growth: invite quotas, waitlist, sign-up mode (migration 0003) ---------------------
# 0003 also adds to `invites`: `id` (what the API names an invite by, so the code's hash is
# never shown), `via` (null for a code; how a waitlisted person was let in, for the row
# that records the invite their let-in spent) and `ix_invites_created_by` (quotas, lists).
# The sign-up mode is the instance fact "signup_mode".

# People waiting for an account. The username is reserved while they wait; only a
# SHA-256 of their secret waitlist token is kept. The row goes when they finish
# sign-up (an `invites` row with `via` then records who let them in) or leave.
waitlist = sa.Table(
    "waitlist",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    # Stored lower-cased, as users.username.
    sa.Column("username", sa.String(30), nullable=False, unique=True),
    sa.Column("display_name", sa.String(50), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("admitted_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True, index=True),
    sa.Column("admitted_at", sa.Float, nullable=True),
    sa.Column("via", sa.String(10), nullable=True),  # "username" | "admin" | "contact"
    # the admins' list, oldest first
    sa.Index("ix_waitlist_created", "created_at", "id"),
)

# -- profiles (migration 0004) ---------------------------------------------------------

# What a member tells about themselves beyond users' names; a row only once they set something.
profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    # Plain text, whitespace collapsed, at most 160 characters (actions/profiles.py).
    sa.Column("bio", sa.String(160), nullable=False),
    # Their nominator deleted their account: "nominated by a former member"
    # (users.invited_by is then NULL, so nothing references the deleted id).
    sa.Column("nominated_by_former", sa.Boolean, nullable=False),
)

# The re-encoded avatar (256×256 WebP, no metadata), kept in the database so that a
# backup is one database. `sha256` of the bytes names the version in URLs.
avatars = sa.Table(
    "avatars",
    metadata,
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("image", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# -- private contact matching (migration 0005) -----------------------------------------

# Findable identifiers (docs/API.md, "Contact matching"): each one opted in by its owner,
# a member or a waitlisted person. Only HMAC-SHA256(instance contact key, "kind:value")
# is kept, never the phone number or e-mail address. Nothing of a matching upload is
# stored anywhere. The contact key itself is the instance fact "contact_key".
contact_identifiers = sa.Table(
    "contact_identifiers",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    sa.Column("waitlist_id", sa.String(32), sa.ForeignKey("waitlist.id", ondelete="CASCADE"), nullable=True),
    sa.Column("kind", sa.String(5), nullable=False),  # "phone" | "email"
    sa.Column("hash", sa.String(64), nullable=False),  # lower-case hex
    # The hash's first 32 bits: a bucket (a prefix of any length up to 32 bits) is one index range.
    # Part of the hash, so exports leave it out as they do the hash (storage/your_data.py).
    sa.Column("bucket", sa.BigInteger, nullable=False, info={"secret": True}),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.CheckConstraint("(user_id IS NULL) <> (waitlist_id IS NULL)", name="ck_contact_identifiers_owner"),
    # one owner lists theirs; several owners may claim one identifier (nobody can squat it)
    sa.UniqueConstraint("user_id", "hash", name="uq_contact_identifiers_user"),
    sa.UniqueConstraint("waitlist_id", "hash", name="uq_contact_identifiers_waitlist"),
    sa.Index("ix_contact_identifiers_bucket", "bucket"),
)

# -- pings and notifications (migration 0006) ------------------------------------------

# The inbox. Integer ids: they order the inbox (newest first) and page it.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
    # "ping" | "room_started" | "new_follower" | "waitlist_joined" | "room_invite" | "club_invite" | "report_handled"
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("actor_id", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("room_id", sa.String(32), sa.ForeignKey("rooms.id"), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("read_at", sa.Float, nullable=True),
    # `report_handled`: the reporter's report (migration 0008); NULL once the report is gone
    sa.Column(
        "report_id",
        sa.String(32),
        sa.ForeignKey("reports.id", ondelete="SET NULL", name="fk_notifications_report_id"),
        nullable=True,
    ),
    # added by migration 0009: what an admin wrote to the person (kind "warned"), else NULL;
    # for an event reminder (migration 0011), "late" when it was sent after its due time
    sa.Column("text", sa.String(500), nullable=True),
    # added by migration 0011: the event an `event_*` notification is about; goes with it
    sa.Column(
        "event_id",
        sa.String(32),
        sa.ForeignKey("events.id", ondelete="CASCADE", name="fk_notifications_event_id"),
        nullable=True,
    ),
    # added by migration 0016: the club a `club_invite` is about; goes with it
    sa.Column(
        "club_id",
        sa.String(32),
        sa.ForeignKey("clubs.id", ondelete="CASCADE", name="fk_notifications_club_id"),
        nullable=True,
    ),
    # one user's inbox, newest first, and their unread count
    sa.Index("ix_notifications_user", "user_id", "id"),
    sa.Index("ix_notifications_unread", "user_id", "read_at"),
)

# A row per kind the user muted: muted kinds are neither stored nor delivered.
notification_mutes = sa.Table(
    "notification_mutes",
    metadata,
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
)

# -- account safety: sign-in history (migration 0007) ----------------------------------

# A member's own sign-in attempts, kept SIGN_IN_KEEP_DAYS (domain/sessions.py). No address,
# not even a truncated one (docs/API.md, Account safety). Repeated failures from the same
# kind of client within SIGN_IN_MERGE_S are one row with a count.
sign_ins = sa.Table(
    "sign_ins",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("at", sa.Float, nullable=False),  # the latest attempt of the row
    sa.Column("client", sa.String(40), nullable=True),
    # "ok", or the error code the attempt was refused with ("bad_credentials", …)
    sa.Column("result", sa.String(40), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    # one member's history, newest first
    sa.Index("ix_sign_ins_user", "user_id", "at"),
    # pruning
    sa.Index("ix_sign_ins_at", "at"),
)

# -- reports (migration 0008) ----------------------------------------------------------------

# A report and the context a moderator needs, captured when it was made (docs/API.md,
# Reports): the profile text of a reported person, the room's title and kind, who was
# on stage (report_stage) and the room's audit entries around then. Parlor records no
# audio: that, the audit log and what moderators saw themselves is what there is.
# The audit entries are not copied: the report keeps the id range of the room's
# entries it saw, so that deleting an account anonymises them there as everywhere.
reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    # NULL once the reporter deleted their account (the report stays for moderators)
    sa.Column("reporter_id", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("target_kind", sa.String(10), nullable=False),  # domain/reports.py TargetKind
    sa.Column("target_id", sa.String(32), nullable=False),
    # the person a person or profile report is about (their account going deletes the report)
    sa.Column("reported_user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    # the reported room, or where a reported person was reported from
    sa.Column("room_id", sa.String(32), sa.ForeignKey("rooms.id"), nullable=True),
    sa.Column("reason", sa.String(20), nullable=False),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # "open" | "handled"
    sa.Column("outcome", sa.String(10), nullable=True),  # "actioned" | "dismissed"
    sa.Column("handled_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("handled_at", sa.Float, nullable=True),
    sa.Column("resolution_note", sa.String(500), nullable=True),
    # -- context, as it was at report time
    sa.Column("target_label", sa.String(200), nullable=False),  # "Name (@username)" or the room title
    sa.Column("profile_username", sa.String(30), nullable=True),
    sa.Column("profile_display_name", sa.String(50), nullable=True),
    sa.Column("profile_bio", sa.String(160), nullable=True),
    sa.Column("room_title", sa.String(120), nullable=True),
    sa.Column("room_kind", sa.String(10), nullable=True),  # NULL: the room had ended
    sa.Column("room_live", sa.Boolean, nullable=True),
    sa.Column("audit_from_id", sa.Integer, nullable=True),
    sa.Column("audit_to_id", sa.Integer, nullable=True),
    # a reported chat message's text (the only place a chat line is ever stored); 3000
    # since migration 0015: an encrypted room's line is kept as its ciphertext
    sa.Column("message_text", sa.String(3000), nullable=True),
    # added by migration 0014: a reported club's name and description
    sa.Column("club_name", sa.String(50), nullable=True),
    sa.Column("club_description", sa.String(500), nullable=True),
    # added by migration 0014: made by a guest (reporter_id NULL; nothing else of them kept)
    sa.Column("by_guest", sa.Boolean, nullable=False, server_default=sa.false()),
    # the queue: open oldest first, handled newest first
    sa.Index("ix_reports_state_created", "state", "created_at", "id"),
    sa.Index("ix_reports_state_handled", "state", "handled_at", "id"),
    # reports against a person, newest first
    sa.Index("ix_reports_reported_user", "reported_user_id", "created_at", "id"),
    # one open report per reporter and target (a race between two cannot store both)
    sa.Index(
        "uq_reports_open_per_reporter",
        "reporter_id",
        "target_kind",
        "target_id",
        unique=True,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    ),
)

# Who was on stage in the room when it (or someone in it) was reported.
report_stage = sa.Table(
    "report_stage",
    metadata,
    sa.Column("report_id", sa.String(32), sa.ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("username", sa.String(30), nullable=False),
    sa.Column("display_name", sa.String(50), nullable=False),
    sa.Column("role", sa.String(10), nullable=False),  # "moderator" | "speaker"
)

# -- sanctions and the admin audit log (migration 0009) --------------------------------

# Warnings, suspensions, bans and their lifting, per person: the history admins see.
# A suspension or ban is in force while `ended_at` is NULL and (for a suspension)
# `until` is still ahead; lifting it, or a newer one replacing it, sets `ended_at`.
sanctions = sa.Table(
    "sanctions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # "warn" | "suspend" | "ban" | "lift"
    # The admin's reason (for a warning: the message the person reads).
    sa.Column("reason", sa.String(500), nullable=False),
    # NULL: the operator (by_operator), or an admin whose account was deleted since.
    sa.Column("actor_id", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("by_operator", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("until", sa.Float, nullable=True),
    sa.Column("ended_at", sa.Float, nullable=True),
    # a person's history, newest first; and whether they are sanctioned now (sign-in, every request)
    sa.Index("ix_sanctions_user", "user_id", "id"),
)

# What admins (and the operator's CLI) did, instance-wide. Like audit_log, it holds user
# ids without foreign keys: it outlives the people in it (storage/your_data.py).
admin_audit = sa.Table(
    "admin_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("actor_id", sa.String(32), nullable=True),
    sa.Column("by_operator", sa.Boolean, nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("target_id", sa.String(32), nullable=True),
    sa.Column("room_id", sa.String(32), nullable=True),
    sa.Column("detail", sa.String(500), nullable=True),
)


# -- events and reminders (migration 0011) ----------------------------------------------

# A scheduled room (docs/API.md, Events). Times are seconds since the epoch, UTC.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("host_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
    # the club it belongs to (clubs come later: always NULL for now, no foreign key yet)
    sa.Column("club_id", sa.String(32), nullable=True),
    sa.Column("title", sa.String(120), nullable=False),
    sa.Column("description", sa.String(1000), nullable=False),
    sa.Column("starts_at", sa.Float, nullable=False),
    sa.Column("ends_at", sa.Float, nullable=True),
    # IANA name ("Europe/Berlin") the calendar output is written in; NULL: UTC
    sa.Column("time_zone", sa.String(64), nullable=True),
    # up to three topics, comma-separated (domain/topics.py)
    sa.Column("topics", sa.String(120), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # domain/events.py State
    # the room it opened (state "live" or "ended")
    sa.Column("room_id", sa.String(32), sa.ForeignKey("rooms.id"), nullable=True),
    # reminders the scheduler has dealt with ("lead", "start", comma-separated): an event
    # with both done is not looked at again
    sa.Column("reminders_done", sa.String(20), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    # iCalendar SEQUENCE: each change a calendar should notice adds one
    sa.Column("sequence", sa.Integer, nullable=False),
    # upcoming events (the hallway, the scheduler): one index range
    sa.Index("ix_events_state_starts", "state", "starts_at"),
    # a host's events (profiles, account deletion)
    sa.Index("ix_events_host", "host_id", "starts_at"),
    # a club's events (its page)
    sa.Index("ix_events_club", "club_id", "starts_at"),
)

event_cohosts = sa.Table(
    "event_cohosts",
    metadata,
    sa.Column("event_id", sa.String(32), sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Index("ix_event_cohosts_user", "user_id"),
)

# "Notify me": who asked to be told about an event (reminders, start, changes, cancel).
event_subscriptions = sa.Table(
    "event_subscriptions",
    metadata,
    sa.Column("event_id", sa.String(32), sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_event_subscriptions_user", "user_id"),
)

# Each reminder sent (or skipped), one row per event, person and kind: claimed in the
# transaction that stores the notification, so none is sent twice, even across restarts.
event_reminders = sa.Table(
    "event_reminders",
    metadata,
    sa.Column("event_id", sa.String(32), sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("kind", sa.String(10), primary_key=True),  # "lead" | "start"
    sa.Column("sent_at", sa.Float, nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Index("ix_event_reminders_user", "user_id"),
)

# A person's private calendar feed (/calendar/<secret>.ics): only a hash of the secret.
calendar_feeds = sa.Table(
    "calendar_feeds",
    metadata,
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
)
# -- clubs and interests (migration 0012) -----------------------------------------------

# A club (DESIGN §5, domain/clubs.py). `name_key` (the name case-folded) makes names
# unique whatever their case. Topics are kept as ",a,b," so that one LIKE finds a topic.
# `archived_at`: its last admin deleted their account and nobody was left to run it.
clubs = sa.Table(
    "clubs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("name_key", sa.String(200), nullable=False, unique=True),
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("rules", sa.String(1000), nullable=False),
    sa.Column("topics", sa.String(120), nullable=False),
    sa.Column("mode", sa.String(10), nullable=False),  # domain/clubs.py Mode
    sa.Column("created_by", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("archived_at", sa.Float, nullable=True),
)

# Everyone in a club, members and followers: one role each (domain/clubs.py ClubRole).
# `since`: when they came in (a hand-over goes to the longest-standing).
club_members = sa.Table(
    "club_members",
    metadata,
    sa.Column("club_id", sa.String(32), sa.ForeignKey("clubs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("since", sa.Float, nullable=False),
    # a person's clubs (the hallway, "your clubs")
    sa.Index("ix_club_members_user", "user_id", "club_id"),
    # a club's people by role, longest-standing first
    sa.Index("ix_club_members_role", "club_id", "role", "since"),
)

# What waits on a person's way into a club: their join request, a member's nomination
# of them, an invitation (domain/clubs.py Pending). One per person and club.
club_requests = sa.Table(
    "club_requests",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("club_id", sa.String(32), sa.ForeignKey("clubs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),
    # who invited or nominated them (NULL for their own request)
    sa.Column("by_id", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("club_id", "user_id", name="uq_club_requests_person"),
    sa.Index("ix_club_requests_user", "user_id", "created_at"),
)

# The club's avatar, re-encoded as profiles' avatars are (actions/profiles.py).
club_avatars = sa.Table(
    "club_avatars",
    metadata,
    sa.Column("club_id", sa.String(32), sa.ForeignKey("clubs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("image", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# A person's interests: topics of the instance's list (domain/topics.py), at most 20.
interests = sa.Table(
    "interests",
    metadata,
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("topic", sa.String(32), primary_key=True),
)

# Single sign-on: which account a provider's person (issuer, subject) signs in to. Nothing
# else of theirs is kept (no e-mail, no groups): admin comes from the claims at each sign-in.
sso_identities = sa.Table(
    "sso_identities",
    metadata,
    sa.Column("issuer", sa.String(255), primary_key=True),
    sa.Column("subject", sa.String(255), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
)
