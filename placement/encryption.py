"""Secrets kept at rest (the TOTP secrets): Fernet tokens (AES-128-CBC with HMAC-SHA256,
from `cryptography`) under keys derived from the settings.

The keys are `PLACEMENT_ENCRYPTION_KEY`, a comma-separated list, newest first; unset, the
one key is `SECRET_KEY`. Each is stretched with HKDF-SHA256 into a Fernet key, so any long
random string will do. New secrets are encrypted with the first key; any key in the list
decrypts, so a key is rotated by putting the new one first, running `placement
rotate-encryption-key` (which re-encrypts every stored secret with it) and then dropping
the old one.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from placement.errors import DomainError

# Base64 of Fernet's version byte 0x80 and a timestamp: no base32 TOTP secret (upper case
# letters and 2-7) starts like this, so old plain-text values are told apart.
TOKEN_PREFIX = "gAAAAA"
_INFO = b"placement: secrets at rest (TOTP)"


class SecretUnreadable(DomainError):
    """A stored secret does not decrypt with any configured key: the server is set up with
    the wrong PLACEMENT_ENCRYPTION_KEY (or SECRET_KEY); retrying cannot help."""

    status = 503
    code = "encryption_key_mismatch"
    default_message = (
        "Two-step sign-in cannot be checked just now: the server's encryption key does not "
        "match the one your secret was stored with. Tell the administrator "
        "(PLACEMENT_ENCRYPTION_KEY)."
    )


def _fernet_key(material: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        material.encode("utf-8")
    )
    return base64.urlsafe_b64encode(derived)


@functools.lru_cache(maxsize=8)
def keyring(keys: tuple[str, ...]) -> MultiFernet:
    """A MultiFernet over `keys` (`Settings.encryption_keys`): encrypts with the first."""
    if not keys:
        raise ValueError("at least one encryption key is needed")
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


def is_encrypted(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)


def encrypt(keys: tuple[str, ...], plain: str) -> str:
    return keyring(keys).encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(keys: tuple[str, ...], stored: str) -> str:
    """The plain text of `stored`; SecretUnreadable when no key opens it."""
    try:
        return keyring(keys).decrypt(stored.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise SecretUnreadable() from exc


def rotate(keys: tuple[str, ...], stored: str) -> str:
    """`stored` re-encrypted with the first key (SecretUnreadable when no key opens it)."""
    try:
        return keyring(keys).rotate(stored.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError) as exc:
        raise SecretUnreadable() from exc
