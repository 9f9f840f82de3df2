"""Durable facts: SQLAlchemy 2 async on SQLite (default) or PostgreSQL."""
