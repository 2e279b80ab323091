"""Accounts and how they prove who they are: users, tokens, sessions, links, MFA."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from placement.models.base import (
    ROLES,
    _fk,
    _in,
    _ts,
)


class User(SQLModel, table=True):
    __tablename__: ClassVar[str] = "users"
    __table_args__ = (sa.CheckConstraint(_in("role", ROLES), name="role"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=255)
    is_active: bool = Field(default=True)
    created_at: datetime = _ts(nullable=False, default=True)
    last_login_at: datetime | None = _ts()
    # When the owner proved the address by a link; None: no sign-in until they do.
    email_verified_at: datetime | None = _ts()
    # Failed sign-ins before this no longer count against the account.
    password_changed_at: datetime | None = _ts()
    # TOTP (RFC 6238): the secret in use once confirmed, the one waiting for confirmation,
    # and the last time step accepted (a code is good once). The secrets are Fernet tokens
    # (placement/encryption.py), read only through services/mfa.py.
    mfa_secret: str | None = Field(default=None, max_length=255)
    mfa_pending_secret: str | None = Field(default=None, max_length=255)
    mfa_enabled_at: datetime | None = _ts()
    mfa_last_step: int | None = Field(default=None, sa_type=sa.BigInteger)

    @property
    def mfa_enabled(self) -> bool:
        return self.mfa_secret is not None


class ApiToken(SQLModel, table=True):
    """A bearer token of the API."""

    __tablename__: ClassVar[str] = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("users.id", "CASCADE")
    # Only a SHA-256 of the token is kept: a leaked table reveals no usable token.
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = _ts(nullable=False, default=True)
    last_used_at: datetime | None = _ts()
    revoked_at: datetime | None = _ts()


class WebSession(SQLModel, table=True):
    """A signed-in page session. The cookie carries only its random id, which is no bearer
    token: the API never looks in this table."""

    __tablename__: ClassVar[str] = "web_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("users.id", "CASCADE")
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = _ts(nullable=False, default=True)
    last_used_at: datetime | None = _ts()
    revoked_at: datetime | None = _ts()
    ip: str | None = Field(default=None, max_length=64)


class RecoveryCode(SQLModel, table=True):
    """One of the ten single-use codes that stand in for the authenticator app."""

    __tablename__: ClassVar[str] = "mfa_recovery_codes"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _fk("users.id", "CASCADE")
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = _ts()


LINK_PURPOSES = ("register", "invite", "confirm", "reset")


class EmailLink(SQLModel, table=True):
    """A signed, expiring, single-use link sent to an address: it proves that whoever uses
    it reads that mailbox. `register` and `invite` create an account, `confirm` proves the
    address of an existing one, `reset` sets a new password."""

    __tablename__: ClassVar[str] = "email_links"
    __table_args__ = (
        sa.CheckConstraint(_in("purpose", LINK_PURPOSES), name="purpose"),
        sa.CheckConstraint(_in("role", ROLES), name="role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    purpose: str = Field(max_length=20)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    email: str = Field(max_length=254, index=True)
    name: str = Field(default="", max_length=200)
    role: str = Field(default="trainee", max_length=20)
    user_id: int | None = _fk("users.id", "CASCADE", nullable=True)
    trainee_id: int | None = _fk("trainees.id", "SET NULL", nullable=True)
    created_at: datetime = _ts(nullable=False, default=True)
    expires_at: datetime = _ts(nullable=False, default=True)
    used_at: datetime | None = _ts()


class LoginFailure(SQLModel, table=True):
    """A failed sign-in (wrong password or wrong second factor), from the API or a page:
    the one login limiter counts these."""

    __tablename__: ClassVar[str] = "login_failures"
    __table_args__ = (
        sa.Index("ix_login_failures_email_at", "email", "at"),
        sa.Index("ix_login_failures_ip_at", "ip", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False, default=True)
    email: str = Field(max_length=254)
    ip: str = Field(max_length=64)
    kind: str = Field(default="password", max_length=20)
