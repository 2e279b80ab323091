"""encrypt TOTP secrets at rest

Revision ID: ae183f32863e
Revises: 3b8f1d6e2a70
Create Date: 2026-12-02 16:20:00

The columns widen to hold Fernet tokens, and the secrets already stored are encrypted with
the first configured key (PLACEMENT_ENCRYPTION_KEY, else SECRET_KEY: the settings that
`placement migrate` runs with). Downgrade decrypts them again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "ae183f32863e"
down_revision: str | None = "3b8f1d6e2a70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("mfa_secret", "mfa_pending_secret")


def _keys() -> tuple[str, ...]:
    from placement.config import ConfigError, Settings

    settings = context.config.attributes.get("settings")
    if settings is None:
        try:
            settings = Settings.from_env()
        except ConfigError as exc:
            raise RuntimeError(
                f"encrypting the stored TOTP secrets needs the encryption key: {exc}"
            ) from exc
    return tuple(settings.encryption_keys)


def _convert(change: str) -> None:
    from placement import encryption

    users = sa.table("users", sa.column("id"), *(sa.column(name) for name in COLUMNS))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(users).where(sa.or_(*(users.c[name].is_not(None) for name in COLUMNS)))
    ).all()
    if not rows:
        return
    keys = _keys()
    for row in rows:
        values = {}
        for name in COLUMNS:
            stored = getattr(row, name)
            if stored is None:
                continue
            sealed = encryption.is_encrypted(stored)
            if change == "encrypt" and not sealed:
                values[name] = encryption.encrypt(keys, stored)
            elif change == "decrypt" and sealed:
                values[name] = encryption.decrypt(keys, stored)
        if values:
            bind.execute(users.update().where(users.c.id == row.id).values(**values))


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.alter_column(
                name,
                existing_type=sa.String(length=64),
                type_=sa.String(length=255),
                existing_nullable=True,
            )
    _convert("encrypt")


def downgrade() -> None:
    _convert("decrypt")
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.alter_column(
                name,
                existing_type=sa.String(length=255),
                type_=sa.String(length=64),
                existing_nullable=True,
            )
