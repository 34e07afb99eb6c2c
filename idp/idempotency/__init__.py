"""``Idempotency-Key`` records: the same POST retried gives the same answer, once."""
