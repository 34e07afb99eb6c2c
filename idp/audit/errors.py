"""Audit failures as domain errors (the CLI maps ``exit_code``; the admin API a problem)."""

from __future__ import annotations

from idp.errors import DomainError

EXIT_DATAERR = 65  # EX_DATAERR: the data is not what it claims to be


class AuditChainBroken(DomainError):
    code = "audit_chain_broken"
    exit_code = EXIT_DATAERR


class ExportMismatch(DomainError):
    code = "audit_export_mismatch"
    exit_code = EXIT_DATAERR
