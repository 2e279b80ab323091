"""Accounts: who may hold an address, and creating an account."""

from __future__ import annotations

import re
import unicodedata

from confusable_homoglyphs import categories, confusables
from sqlalchemy import func
from sqlmodel import Session, col, select

from placement import auth
from placement.errors import Conflict, InvalidInput
from placement.models import ROLES, Trainee, User, utcnow

EMAIL_RE = re.compile(r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")
DOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
# Characters nobody sees: format (zero-width space, joiners, direction marks), control,
# private-use, unassigned, and separators other than a plain space.
_INVISIBLE = {"Cf", "Cc", "Co", "Cn", "Cs", "Zl", "Zp", "Zs"}


def normalise_email(email: str) -> str:
    """The form an address is stored and compared in: Unicode NFKC (full-width letters
    become plain ones), then case-folded. Use `checked_email` for new addresses."""
    return unicodedata.normalize("NFKC", email.strip()).casefold()


def email_problem(email: str) -> str | None:
    """Why a (normalised) address cannot belong to an account, or None.

    Addresses that look like another one are refused, so that nobody can hold a
    look-alike of a real person's address: invisible characters, a domain that is not
    plain ASCII after NFKC (an internationalised domain must be given in its `xn--` form),
    and a local part that mixes scripts or uses letters that pass for Latin ones.
    """
    if not email or len(email) > MAX_EMAIL_LENGTH:
        return "is not a valid email address"
    if any(unicodedata.category(ch) in _INVISIBLE for ch in email):
        return "contains invisible or control characters"
    if not EMAIL_RE.match(email):
        return "is not a valid email address"
    local, _, domain = email.rpartition("@")
    if not domain.isascii():
        return (
            "has a domain with characters that look like others; "
            "write an international domain in its xn-- form"
        )
    if not DOMAIN_RE.match(domain) or len(local) > 64:
        return "is not a valid email address"
    if not local.isascii():
        scripts = categories.unique_aliases(local) - {"COMMON", "INHERITED"}
        if len(scripts) > 1:
            return "mixes letters from different alphabets"
        if confusables.is_confusable(local, preferred_aliases=["latin"], greedy=False):
            return "contains letters that look like Latin ones (for example a Cyrillic a)"
    return None


def checked_email(email: str) -> str:
    """`email` normalised, or InvalidInput naming the field."""
    normalised = normalise_email(email)
    problem = email_problem(normalised)
    if problem:
        raise InvalidInput("Some values are invalid.", errors={"email": [problem]})
    return normalised


def user_by_email(session: Session, email: str) -> User | None:
    if "\x00" in email:  # PostgreSQL cannot even compare a NUL character
        return None
    return session.exec(select(User).where(User.email == normalise_email(email))).first()


def unclaimed_profile(session: Session, email: str) -> Trainee | None:
    """An imported trainee profile with this address that no account holds yet."""
    if "\x00" in email:
        return None
    return session.exec(
        select(Trainee).where(
            func.lower(Trainee.email) == normalise_email(email),
            col(Trainee.user_id).is_(None),
            col(Trainee.erased_at).is_(None),
        )
    ).first()


def _name_problem(name: str) -> str | None:
    if not name.strip():
        return "must not be empty"
    if len(name.strip()) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters"
    if "\x00" in name:
        return "must not contain NUL characters"
    return None


def check_details(*, email: str, name: str, role: str, roles: tuple[str, ...] = ROLES) -> str:
    """The normalised email, or InvalidInput naming every bad field."""
    errors: dict[str, list[str]] = {}
    normalised = normalise_email(email)
    problem = email_problem(normalised)
    if problem:
        errors["email"] = [problem]
    problem = _name_problem(name)
    if problem:
        errors["name"] = [problem]
    if role not in roles:
        errors["role"] = [f"must be one of {', '.join(roles)}"]
    if errors:
        raise InvalidInput("Some values are invalid.", errors=errors)
    return normalised


def create_user(
    *,
    session: Session,
    email: str,
    name: str,
    role: str,
    password: str,
    commit: bool = True,
) -> User:
    """Create an account whose address is already proved (the command line, or a used
    link). A trainee account joins the unclaimed imported profile with its email, if any,
    else gets a new profile."""
    email = check_details(email=email, name=name, role=role)
    problem = auth.password_problem(password)
    if problem:
        raise InvalidInput("Some values are invalid.", errors={"password": [problem]})
    if user_by_email(session, email) is not None:
        raise Conflict("That email address is already registered.")
    now = utcnow()
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=auth.hash_password(password),
        email_verified_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    if role == "trainee":
        profile = unclaimed_profile(session, email)
        if profile is not None:
            profile.user_id = user.id
        else:
            session.add(Trainee(user_id=user.id, name=user.name, email=email))
        session.flush()
    if commit:
        session.commit()
    return user


def first_coordinator(session: Session) -> User | None:
    """The oldest coordinator account: who the command line acts as for system work."""
    return session.exec(
        select(User).where(User.role == "coordinator").order_by(col(User.id))
    ).first()
