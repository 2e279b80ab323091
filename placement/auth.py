"""Passwords (argon2id), random tokens (stored as SHA-256) and password rules."""

from __future__ import annotations

import hashlib
import re
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128

# Common passwords: the 30,000 most common from breach corpora, as shipped by the zxcvbn
# package (no network). A common word with digits or symbols around it ("Summer2026",
# "P@ssword1!") is just as guessable, so the word inside is checked too.
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
_AROUND = re.compile(r"^[\W\d_]*(.*?)[\W\d_]*$")
_EXTRA_WORDS = ("placement", "medtech", "trainee", "employer", "coordinator")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"]) | frozenset(_EXTRA_WORDS)


def is_common(password: str) -> bool:
    lowered = password.lower()
    common = common_passwords()
    if lowered in common or lowered.translate(_LEET) in common:
        return True
    match = _AROUND.match(lowered)
    core = match.group(1) if match else lowered
    if not core:  # only digits and symbols: "12345678", "!!!!2026"
        return True
    return core in common or core.translate(_LEET) in common


def password_problem(password: str) -> str | None:
    """Why a password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    if len(set(password)) < 3 or is_common(password):
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
