"""Rate limits (decision 0012): per client at ``/token``, per caller on
``/admin/v1`` and ``/scim/v2``, per address everywhere else a person or a program can
call without credentials.

Each limit is a budget per fixed window (``IDP_RATE_LIMIT_WINDOW_SECONDS``) shared by
every worker: a counter per window in Redis when configured, else a row of the throttle
table (``idp/credentials/throttle.py``: ``add``/``window_key``). A process does not ask
the shared store for every request: it takes a slice of the budget (1/20 of the limit)
with one atomic increment and spends it locally, on the event loop, with no
lock and no round trip. The shared counter never grants more than the limit; what a
process holds when the budget runs out is stranded until the window ends (at most one
slice per process, documented in the decision record).

Refusals are answered ``429`` with ``Retry-After`` (the seconds left in the window) and
counted (``RateLimiter.refusals``, a log summary at most once a minute), never audited
one by one: a flood must not become a flood of audit rows.

Whose budget a request spends, so that nobody can spend someone else's:
* ``/token``: the client it names, unless it is answered ``401`` (the client did not
  authenticate); then the address's.
* ``/admin/v1``, ``/scim/v2``: the caller named by the bearer token (its ``client_id`` and
  ``sub``, read before the token is verified), unless the answer is ``401``; then the
  address's. Requests without a token spend the address's.
* elsewhere (pages, ``/authorize``, ``/userinfo``, ``/revoke``, ...): the address's.
  Discovery, JWKS, static files and health checks are not limited (prebuilt answers cost
  less than the limiter would).

Where: the shared budget and the limiter in ``budget.py``; who is asking (read before
anything is verified) in ``callers.py``; the 429 answers and the hooks on the app
(``limit_token`` around ``/token``, ``RateLimits`` applied by ``idp.edge``) in ``hooks.py``.
"""
