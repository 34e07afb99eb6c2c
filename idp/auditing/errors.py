"""Audit failures as domain errors (the CLI maps them to exit 65; the admin API to a problem)."""

from __future__ import annotations

from idp.errors import DomainError


class AuditChainBroken(DomainError):
    code = "audit_chain_broken"


class ExportMismatch(DomainError):
    code = "audit_export_mismatch"
