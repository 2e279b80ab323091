"""Accounts."""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from placement import auth
from placement.errors import Conflict, InvalidInput
from placement.models import ROLES, Trainee, User

EMAIL_RE = re.compile(r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")
MAX_NAME_LENGTH = 200


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    *, session: Session, email: str, name: str, role: str, password: str, commit: bool = True
) -> User:
    """Create an account. A trainee account takes over an imported profile with its email."""
    errors: dict[str, list[str]] = {}
    email = normalise_email(email)
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors["email"] = ["is not a valid email address"]
    if not name.strip():
        errors["name"] = ["must not be empty"]
    elif len(name.strip()) > MAX_NAME_LENGTH:
        errors["name"] = [f"must be at most {MAX_NAME_LENGTH} characters"]
    elif "\x00" in name:
        errors["name"] = ["must not contain NUL characters"]
    if role not in ROLES:
        errors["role"] = [f"must be one of {', '.join(ROLES)}"]
    problem = auth.password_problem(password)
    if problem:
        errors["password"] = [problem]
    if errors:
        raise InvalidInput("Some values are invalid.", errors=errors)
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise Conflict("That email address is already registered.")
    user = User(
        email=email, name=name.strip(), role=role, password_hash=auth.hash_password(password)
    )
    session.add(user)
    session.flush()
    if role == "trainee":
        profile = session.exec(select(Trainee).where(Trainee.email == email)).first()
        if profile is not None and profile.user_id is None:
            profile.user_id = user.id
        elif profile is None:
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
