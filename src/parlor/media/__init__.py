"""The embedded SFU. Only this package imports aiortc (DESIGN §2)."""
