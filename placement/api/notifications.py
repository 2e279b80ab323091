"""The caller's own notifications: everything Placement mailed them, readable in the app."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from placement.api.common import (
    PageArgsSchema,
    current_actor,
    documented_errors,
    page_args,
    page_of,
)
from placement.flask_db import db_session
from placement.services import notifications

blp = Blueprint("notifications", __name__, url_prefix="/api/v1", description="Notifications")


class NotificationSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    subject = fields.String(required=True)
    body = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    read_at = fields.DateTime(allow_none=True)


@blp.route("/me/notifications")
class MyNotifications(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_of(NotificationSchema))
    @documented_errors(401)
    def get(self, args: dict[str, Any]) -> Any:
        """Your notifications, newest first"""
        return notifications.list_notifications(
            session=db_session(), actor=current_actor(), **page_args(args)
        )


@blp.route("/me/notifications/<id:notification_id>/read")
class MyNotificationRead(MethodView):
    @blp.response(200, NotificationSchema)
    @documented_errors(401, 404)
    def post(self, notification_id: int) -> Any:
        """Mark one of your notifications read (404 for anyone else's)"""
        return notifications.mark_read(
            session=db_session(), actor=current_actor(), notification_id=notification_id
        )
