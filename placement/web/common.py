"""What every page shares: the signed-in user, role checks, form parsing, navigation."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from functools import wraps
from typing import Any, Generic, TypeVar, cast

from flask import Response, abort, has_request_context, request, send_file, url_for
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect
from marshmallow import EXCLUDE, Schema, ValidationError, fields

from placement.errors import DomainError, InvalidInput
from placement.flask_db import current_settings, db_session
from placement.models import User
from placement.services import vetting
from placement.services.validation import MAX_ID
from placement.web.messages import human_errors

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

login_manager = LoginManager()
login_manager.login_view = "web.sign_in"
login_manager.login_message = "Please sign in to see that page."
login_manager.login_message_category = "warning"
login_manager.session_protection = "basic"

csrf = CSRFProtect()


class SignedIn(UserMixin):
    """The Flask-Login view of an account; `user` is the row, `session_id` the opaque id
    kept in the session cookie."""

    def __init__(self, user: User, session_id: str) -> None:
        self.user = user
        self.session_id = session_id

    def get_id(self) -> str:
        return self.session_id

    @property
    def is_active(self) -> bool:
        return bool(self.user.is_active)

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def email(self) -> str:
        return self.user.email


def actor() -> User:
    """The signed-in account (pages that call this are behind `role_required`)."""
    return cast(SignedIn, current_user).user


def role_required(*roles: str) -> Callable[[F], F]:
    """Signed-in users of one of `roles` only: others are sent to sign in, or get a 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if cast(SignedIn, current_user).role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def client_ip() -> str | None:
    return request.remote_addr


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    current: bool


_NAV: dict[str, list[tuple[str, str]]] = {
    "anonymous": [("Sign in", "web.sign_in"), ("Register", "web.register")],
    "coordinator": [
        ("Rounds", "coordinator.dashboard"),
        ("Hosts", "coordinator.organisations"),
        ("Audit log", "coordinator.audit_log"),
    ],
    "trainee": [
        ("Profile", "trainee.profile"),
        ("Find placements", "trainee.browse"),
        ("My choices", "trainee.choices"),
        ("My placement", "trainee.placements"),
        ("Your data", "trainee.data"),
    ],
    "employer": [
        ("Organisation", "employer.organisation"),
        ("Slots", "employer.slots"),
        ("Placements", "employer.placements"),
    ],
}


def nav_items() -> list[NavItem]:
    role = cast(SignedIn, current_user).role if current_user.is_authenticated else "anonymous"
    items = []
    for label, endpoint in _NAV.get(role, []):
        url = url_for(endpoint)
        items.append(NavItem(label, url, request.path == url))
    return items


# --- form parsing: shape only; the services judge the values -------------------------


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """The outcome of a service call a page shows on its own form: the value, or the
    refusal (field -> messages in `errors`)."""

    value: T | None = None
    refusal: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None

    @property
    def message(self) -> str:
        return self.refusal.message if self.refusal is not None else ""

    @property
    def errors(self) -> dict[str, list[str]]:
        return field_errors(self.refusal.errors) if self.refusal is not None else {}

    @property
    def status(self) -> int:
        return self.refusal.status if self.refusal is not None else 200


def attempt(
    call: Callable[[], T], refused: tuple[type[DomainError], ...] = (InvalidInput,)
) -> Attempt[T]:
    """Run one service call (and the form parsing inside it) whose `refused` errors the
    page shows inline instead of as an error page. The request's session is rolled back
    after a refusal, so the page is drawn from what is stored. Every other error
    propagates to the error pages."""
    try:
        return Attempt(value=call())
    except refused as exc:
        db_session().rollback()
        return Attempt(refusal=exc)


def view_context(view: Any) -> dict[str, Any]:
    """A read model's fields as template variables (shallow: the rows stay rows)."""
    return {f.name: getattr(view, f.name) for f in dataclass_fields(view)}


def text(form: Any, name: str) -> str:
    return str(form.get(name, "")).strip()


def word_list(form: Any, name: str) -> list[str]:
    """A comma- or semicolon-separated list, trimmed, without blanks or repeats."""
    raw = text(form, name).replace(";", ",")
    out: list[str] = []
    for part in raw.split(","):
        item = part.strip()
        if item and item not in out:
            out.append(item)
    return out


def field_errors(errors: Any) -> dict[str, list[str]]:
    """A service's `InvalidInput.errors` as field -> messages for the templates, written
    for people (see placement.web.messages); the form just sent tells a blank field from a
    bad one."""
    if not isinstance(errors, dict):
        return {}
    plain = {
        str(k): [str(m) for m in (v if isinstance(v, list | tuple) else [v])]
        for k, v in errors.items()
    }
    values = request.form if has_request_context() and request.method == "POST" else None
    return human_errors(plain, values)


_TRUTHY = {"1", "on", "true", "yes"}


def load_form(schema: Schema, form: Any, names: Iterable[str]) -> dict[str, Any]:
    """Turn the named form fields into typed values through one of the domain's
    marshmallow schemas (the same rules as the API and the CSV import).

    Raises `InvalidInput` with field -> messages, so the page can show them inline.
    """
    data: dict[str, Any] = {}
    for name in names:
        fld = schema.fields[name]
        raw = str(form.get(name, "")).strip()
        if isinstance(fld, fields.Boolean):
            data[name] = raw.lower() in _TRUTHY
        elif isinstance(fld, fields.List):
            data[name] = word_list(form, name)
        elif raw == "":
            if fld.allow_none:
                data[name] = None
            elif fld.required:
                data[name] = raw if isinstance(fld, fields.String) else None
            elif isinstance(fld, fields.String):
                data[name] = ""
        elif isinstance(fld, fields.Integer):
            try:
                data[name] = int(raw)
            except ValueError:
                data[name] = raw
        else:
            data[name] = raw
    try:
        loaded: dict[str, Any] = schema.load(data, partial=False, unknown=EXCLUDE)
    except ValidationError as exc:
        raise InvalidInput(errors=flatten_messages(exc.messages)) from exc
    return loaded


def flatten_messages(messages: Any) -> dict[str, list[str]]:
    """marshmallow's nested messages as field -> flat list of sentences."""
    out: dict[str, list[str]] = {}
    if not isinstance(messages, dict):
        return {"form": [str(messages)]}
    for key, value in messages.items():
        if isinstance(value, dict):
            flat = [
                f"item {int(k) + 1 if str(k).isdigit() else k}: {m}"
                for k, msgs in value.items()
                for m in (msgs if isinstance(msgs, list) else [msgs])
            ]
        elif isinstance(value, list):
            flat = [str(m) for m in value]
        else:
            flat = [str(value)]
        out[str(key)] = [_tidy(m) for m in flat]
    return out


def _tidy(message: str) -> str:
    replacements = {
        "Missing data for required field.": "is required",
        "Field may not be null.": "is required",
        "Not a valid integer.": "must be a whole number",
        "Not a valid number.": "must be a number",
        "Not a valid date.": "must be a date (YYYY-MM-DD)",
    }
    return replacements.get(message, message)


def number_arg(
    raw: str, name: str, errors: dict[str, list[str]], *, minimum: float | None = None
) -> float | None:
    """An optional number from a query string (a filter), with an inline message if bad."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        errors[name] = ["must be a number"]
        return None
    if value != value or value in (float("inf"), float("-inf")):
        errors[name] = ["must be a number"]
        return None
    if minimum is not None and value < minimum:
        errors[name] = [f"must be at least {minimum:g}"]
        return None
    return value


def _as_id(raw: str | None) -> int | None:
    """`raw` as a row id (1 to MAX_ID), or None if it cannot be one."""
    try:
        value = int(raw or "")
    except ValueError:
        return None
    return value if 1 <= value <= MAX_ID else None


def id_arg(raw: str, name: str, errors: dict[str, list[str]]) -> int | None:
    """An optional id from a query string (a filter), with an inline message if bad."""
    raw = raw.strip()
    if not raw:
        return None
    value = _as_id(raw)
    if value is None:
        errors[name] = ["choose one of the listed choices"]
    return value


def search_arg(name: str, max_length: int | None = None) -> str:
    """A search box's text from the query string, trimmed and cut to `max_length`; text
    that no row can hold (a NUL character) is refused with a 422 page."""
    raw = request.args.get(name, "").strip()
    if "\x00" in raw:
        raise InvalidInput(errors={name: ["must not contain NUL characters"]})
    return raw[:max_length] if max_length is not None else raw


def int_or_404(raw: str | None) -> int:
    """An id from a form or the query string; anything that cannot be one is a 404."""
    value = _as_id(raw)
    if value is None:
        abort(404)
    return value


def page_arg() -> int:
    """The `page` of a paginated list: 1 when absent or below 1, a 404 when not a number
    or beyond any page there could be."""
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        abort(404)
    if page > MAX_ID:
        abort(404)
    return max(page, 1)


def wants_json() -> bool:
    """A page's own script asked (fetch with Accept: application/json): answer with JSON
    instead of a redirect or a page; the same form works without it."""
    return request.accept_mimetypes.best == "application/json"


def posted_order(field: str) -> tuple[list[int], bool]:
    """The ranked list a reorder form posted, and whether it was only a move button
    (pressed without JavaScript: the list is shown again, unsaved)."""
    ids = [int_or_404(v) for v in request.form.getlist(field)]
    move = request.form.get("move", "")
    if move.startswith("to:"):
        # "Move to position N": the chosen position comes from the row's own select.
        raw = move.removeprefix("to:")
        move = f"to:{raw}:{request.form.get(f'position-{raw}', '')}"
    return (moved(ids, move), True) if move else (ids, False)


def moved(ids: list[int], move: str) -> list[int]:
    """Apply one no-JavaScript move button (`up:ID`, `down:ID`, `remove:ID`, `add:ID` to
    put an unranked ID last, `to:ID:N` to put ID at position N) to a list."""
    action, _, raw = move.partition(":")
    raw, _, where = raw.partition(":")
    try:
        target = int(raw)
    except ValueError:
        return ids
    if action == "add":
        return ids if target in ids or not 1 <= target <= MAX_ID else [*ids, target]
    if target not in ids:
        return ids
    i = ids.index(target)
    if action == "up" and i > 0:
        ids[i - 1], ids[i] = ids[i], ids[i - 1]
    elif action == "down" and i < len(ids) - 1:
        ids[i + 1], ids[i] = ids[i], ids[i + 1]
    elif action == "remove":
        ids.pop(i)
    elif action == "to":
        try:
            position = int(where)
        except ValueError:
            return ids
        ids.pop(i)
        ids.insert(min(max(position, 1), len(ids) + 1) - 1, target)
    return ids


def evidence_download(accreditation_id: int) -> Response:
    """An accreditation's evidence file, for its owner or a coordinator (the service checks)."""
    found = vetting.evidence_of(
        session=db_session(),
        actor=actor(),
        accreditation_id=accreditation_id,
        storage=vetting.evidence_dir(current_settings().instance_dir),
    )
    return send_file(
        found.path, mimetype=found.content_type, as_attachment=True, download_name=found.name
    )
