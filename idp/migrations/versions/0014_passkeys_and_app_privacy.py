"""passkeys told apart from security keys; each app's own privacy notice

Revision ID: 0014_passkeys_and_app_privacy
Revises: 0013_account_agency_status
Create Date: 2026-12-07 18:40:00

``mfa_credential.discoverable``: whether a WebAuthn credential is a
discoverable credential (a passkey, WebAuthn L2 §6.2.2 "client-side discoverable
credential"), recorded at registration or learnt when it answers a sign-in that names
no account; NULL for keys registered before, which the account page calls security keys
until one answers such a sign-in. ``client.policy_uri``: the app's own privacy notice
(OpenID Connect Dynamic Client Registration 1.0 §2 ``policy_uri``), shown at consent
beside the agency's. Both nullable.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_passkeys_and_app_privacy"
down_revision: str | tuple[str, ...] | None = "0013_account_agency_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Expand only (docs/operations.md "Upgrades without downtime"): the code of the
# previous revision runs on the result (tests/ops/test_migration_marks.py checks it).
govid_expand = True


def upgrade() -> None:
    op.add_column("mfa_credential", sa.Column("discoverable", sa.Boolean(), nullable=True))
    op.add_column("client", sa.Column("policy_uri", sa.String(2000), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of these tables
    # would trip the foreign keys that point at them.
    op.execute(sa.text("ALTER TABLE client DROP COLUMN policy_uri"))
    op.execute(sa.text("ALTER TABLE mfa_credential DROP COLUMN discoverable"))
