"""Rate limits: one limiter for every "how fast may anyone do this" rule.

`policies` names the limits (name → count per window) and parses the operator's
overrides; `rules` is the arithmetic (pure); `base.Limiter` is the store contract,
kept in process (`memory`, the default, one node) or in Redis (`redis`, shared by
every node). The composition root builds one; actions name a policy
(`parlor.actions.limits`).
"""
