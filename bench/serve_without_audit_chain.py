"""`idp serve` with the audit hash chain switched off, FOR MEASURING ITS COST ONLY
(issue 8: "S3 with and without the hash chain"). Events are still inserted in the same
transaction, but without the head lock, the head read and the hash: seq comes from a
per-process counter far above real rows. Never use this to serve anyone."""

import itertools
import sys

import idp.audit.service as audit_service

_seq = itertools.count(10**12)
audit_service.lock_head = lambda session: None
audit_service.head = lambda session: (next(_seq), "0" * 64, None)
audit_service.compute_hash = lambda prev_hash, ev: "0" * 64

if __name__ == "__main__":
    from idp.cli import main

    sys.argv = ["idp", "serve", "--workers", "1"]
    main()
