"""Writing the audit trail: typed events (``events``), the hash chain (``chain``), details
cleaned of secrets (``sanitise``), ``service.record`` in the caller's transaction, and
group commit (``batch``).

A foundation below every domain package (keys, agencies, accounts ... all record through
it), so it imports none of them. Checkpoints, verification, export, queries and retention
read the trail back and live above the domain, in ``idp.auditing``.
"""
