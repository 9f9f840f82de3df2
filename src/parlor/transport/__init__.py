"""The edges: HTTP routes and the client socket. Thin: authenticate, parse, call an action."""
