"""Shapes and ranges of the domain's values, declared once as marshmallow schemas.

The API's request schemas and the CSV import both load through these, so a trainee or
a slot is held to the same rules whichever way it arrives. No queries here: existence,
ownership and state are the services' business.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from placement.models import DBS_LEVELS, ORGANISATION_KINDS

MAX_ID = 2**31 - 1
MAX_LIST = 100


class Text(fields.String):
    """A string the databases accept: no NUL characters, no lone surrogates."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("must not contain NUL characters")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValidationError("is not valid Unicode text") from exc
        return text


class Email(Text):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validate", [validate.Email(), validate.Length(max=254)])
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip().lower()


class WebsiteURL(Text):
    """A website: an absolute `https://` or `http://` address. Any other scheme
    (`javascript:`, `data:`, ...) is refused, so nothing stored can become a script link."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "validate",
            [
                validate.Length(max=300),
                validate.URL(
                    relative=False,
                    schemes={"http", "https"},
                    error="must be an https:// or http:// address, such as https://example.org",
                ),
            ],
        )
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


def text(max_length: int, *, required: bool = False, min_length: int = 0, **kw: Any) -> Text:
    return Text(required=required, validate=validate.Length(min=min_length, max=max_length), **kw)


def ident(**kw: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kw)


def query_ident(**kw: Any) -> fields.Integer:
    """An id in a query string, where every value arrives as text."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kw)


def string_list(item_length: int = 100, **kw: Any) -> fields.List:
    return fields.List(
        text(item_length, min_length=1), validate=validate.Length(max=MAX_LIST), **kw
    )


def lat_field(**kw: Any) -> fields.Float:
    return fields.Float(validate=validate.Range(min=-90, max=90), **kw)


def lon_field(**kw: Any) -> fields.Float:
    return fields.Float(validate=validate.Range(min=-180, max=180), **kw)


def level_field(**kw: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.OneOf([4, 5]), **kw)


def _dates_ordered(data: dict[str, Any], start: str, end: str) -> None:
    if data.get(start) is not None and data.get(end) is not None and data[start] > data[end]:
        raise ValidationError(f"must not be before {start}", end)


class OrganisationFields(Schema):
    name = text(200, required=True, min_length=1)
    kind = Text(required=True, validate=validate.OneOf(ORGANISATION_KINDS))
    accreditations = string_list(100)
    postcode = text(10, allow_none=True)
    latitude = lat_field(allow_none=True)
    longitude = lon_field(allow_none=True)
    website = WebsiteURL(allow_none=True)
    verified = fields.Boolean()


class RoundFields(Schema):
    name = text(200, required=True, min_length=1)
    region = text(100)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    preference_deadline = fields.Date(allow_none=True)
    max_preferences = fields.Integer(strict=True, validate=validate.Range(min=1, max=50))
    dbs_max_age_years = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=10),
        metadata={"description": "a DBS check counts when issued at most this many years ago"},
    )
    offer_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=60))

    @validates_schema(skip_on_field_errors=False)
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        _dates_ordered(data, "starts_on", "ends_on")


class TraineeFields(Schema):
    name = text(200, required=True, min_length=1)
    email = Email(allow_none=True)
    level = level_field(allow_none=True)
    provider = text(200)
    skills = string_list(100)
    postcode = text(10, allow_none=True)
    latitude = lat_field(allow_none=True)
    longitude = lon_field(allow_none=True)
    max_travel_km = fields.Float(
        allow_none=True, validate=validate.Range(min=0, max=20000, min_inclusive=False)
    )
    available_from = fields.Date(allow_none=True)
    available_to = fields.Date(allow_none=True)
    dbs_cleared = fields.Boolean()
    needs = text(2000)
    share_needs = fields.Boolean()

    @validates_schema(skip_on_field_errors=False)
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        _dates_ordered(data, "available_from", "available_to")


class SlotFields(Schema):
    organisation_id = ident()
    title = text(200, required=True, min_length=1)
    discipline = text(100)
    description = text(10000)
    required_skills = string_list(100)
    min_level = level_field()
    capacity = fields.Integer(strict=True, validate=validate.Range(min=1, max=100))
    postcode = text(10, allow_none=True)
    latitude = lat_field()
    longitude = lon_field()
    remote = fields.Boolean()
    requires_dbs = fields.Boolean()
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)

    @validates_schema(skip_on_field_errors=False)
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        _dates_ordered(data, "starts_on", "ends_on")


class AccreditationFields(Schema):
    standard = text(100, required=True, min_length=1)
    body = text(200, metadata={"description": "the accrediting body, e.g. UKAS"})
    number = text(100, metadata={"description": "the accreditation or certificate number"})
    scope = text(2000)
    expires_on = fields.Date(allow_none=True)


class DbsCheckFields(Schema):
    certificate_number = Text(
        required=True,
        validate=validate.Regexp(
            r"^[0-9]{12}$", error="must be the 12-digit number printed on the certificate"
        ),
    )
    level = Text(required=True, validate=validate.OneOf(DBS_LEVELS))
    issued_on = fields.Date(required=True)


class SafetyFields(Schema):
    supervisor_name = text(200)
    supervisor_contact = text(254, metadata={"description": "an email address or phone number"})
    induction_arranged = fields.Boolean()
    risk_assessment_done = fields.Boolean()
    insurance_confirmed = fields.Boolean()


WEIGHT_KEYS = ("preference", "employer", "skills", "distance")
RUN_NAME_MAX = 100


class WeightsFields(Schema):
    preference = fields.Float(validate=validate.Range(min=0, max=1_000_000))
    employer = fields.Float(validate=validate.Range(min=0, max=1_000_000))
    skills = fields.Float(validate=validate.Range(min=0, max=1_000_000))
    distance = fields.Float(validate=validate.Range(min=0, max=1_000_000))
