"""Everything that changes state: `check_*` validates, `do_*` writes, then publishes.

Only this package writes to storage and publishes on the bus, and it publishes
after the transaction commits.
"""
