"""Who may read what: API keys, their roles and collections, and the audit log.

Knows no HTTP and no index: the server asks it who a bearer token is
(:class:`access.keys.KeyRing`) and what that caller may read (:class:`access.keys.Caller`).
"""
