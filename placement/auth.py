"""Passwords (argon2id), bearer tokens (random, stored as SHA-256) and password rules."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128

# The most common passwords of at least eight characters (from public breach corpora).
COMMON_PASSWORDS = frozenset(
    [
        "password",
        "password1",
        "password12",
        "password123",
        "password1234",
        "passw0rd",
        "p@ssw0rd",
        "p@ssword",
        "12345678",
        "123456789",
        "1234567890",
        "0123456789",
        "87654321",
        "11111111",
        "00000000",
        "12341234",
        "123123123",
        "qwertyui",
        "qwertyuiop",
        "qwerty123",
        "qwerty12",
        "1q2w3e4r",
        "1q2w3e4r5t",
        "1qaz2wsx",
        "zaq12wsx",
        "iloveyou",
        "iloveyou1",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "welcome1",
        "welcome123",
        "letmein1",
        "superman",
        "trustno1",
        "starwars",
        "dragon12",
        "monkey12",
        "abc12345",
        "abcd1234",
        "abcdefgh",
        "asdfghjk",
        "asdfasdf",
        "changeme",
        "changeme1",
        "administrator",
        "admin123",
        "admin1234",
        "computer",
        "internet",
        "whatever",
        "michelle",
        "jennifer",
        "charlie1",
        "liverpool",
        "chelsea1",
        "arsenal1",
        "manchester",
        "placement",
        "placement1",
        "medtech1",
        "trainee1",
        "employer1",
        "coordinator",
    ]
)


def password_problem(password: str) -> str | None:
    """Why a password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 3:
        return "is too common; choose a less guessable password"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# Verifying against this when the email is unknown keeps the timing of both answers alike.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def new_token() -> tuple[str, str]:
    """A fresh bearer token and the hash that is stored."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
