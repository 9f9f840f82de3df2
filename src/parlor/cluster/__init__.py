"""The nodes of one Parlor: who they are, and who holds what (leases).

One node (the default) is a cluster of one (local.py); several nodes sharing a Redis
(PARLOR_REDIS_URL) find each other and share leases there (redis.py).
"""
