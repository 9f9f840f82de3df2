"""Pub/sub between the parts of a node (and, later, between nodes)."""
