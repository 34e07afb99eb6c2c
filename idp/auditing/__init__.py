"""Reading the audit trail back: signed checkpoints, verification, export (and checking an
export), queries, retention.

Above the domain: it signs and verifies with ``idp.keys`` and scopes by ``idp.agencies``.
Writing an event is ``idp.audit`` (events, chain, sanitising, ``record``, group commit),
a foundation every domain package records through; it imports nothing from here.
"""
