"""Match runs, their proposals, and the coordinators' decisions on them."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from placement.api.common import (
    PageArgsSchema,
    allow,
    current_actor,
    documented_errors,
    page_args,
    page_of,
)
from placement.api.jobs import ACCEPTED, AsyncArgsSchema, accepted
from placement.flask_db import current_settings, db_session, settings_of
from placement.models import (
    OFFER_STATUSES,
    PLACEMENT_STATUSES,
    PROPOSAL_STATUSES,
    RUN_MODES,
    RUN_PHASES,
    RUN_STATUSES,
    UNPLACED_REASONS,
)
from placement.services import approvals, instance_json, jobs, runs
from placement.services.runs import seat_moves
from placement.services.validation import RUN_NAME_MAX, WeightsFields, text

blp = Blueprint("runs", __name__, url_prefix="/api/v1", description="Match runs and proposals")


class RunArgsSchema(Schema):
    name = text(RUN_NAME_MAX)
    mode = fields.String(validate=validate.OneOf(RUN_MODES))
    weights = fields.Nested(WeightsFields)
    allow_unranked = fields.Boolean()
    seed = fields.Integer(strict=True, validate=validate.Range(min=0, max=2**63 - 1))


class RunSchema(Schema):
    id = fields.Integer(required=True)
    round_id = fields.Integer(required=True)
    name = fields.String(metadata={"description": 'the coordinator\'s name for it; "" if none'})
    mode = fields.String(required=True, validate=validate.OneOf(RUN_MODES))
    seed = fields.Integer()
    status = fields.String(required=True, validate=validate.OneOf(RUN_STATUSES))
    progress = fields.Integer(required=True)
    phase = fields.String(validate=validate.OneOf(RUN_PHASES))
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    weights = fields.Dict(keys=fields.String(), values=fields.Float())
    allow_unranked = fields.Boolean()
    clearing = fields.Boolean(
        metadata={"description": "a run on a published round, filling seats still free"}
    )
    stats = fields.Dict(
        allow_none=True,
        metadata={
            "description": (
                "placed, unplaced, objective, first_choice, top3, mean_rank, worst_rank, "
                "blocking_pairs, solve_seconds, total_seconds"
            )
        },
    )
    error = fields.String(allow_none=True)
    instance_sha256 = fields.String(
        allow_none=True,
        metadata={
            "description": "SHA-256 (hex) of the instance file the run solved, as served by "
            "GET /runs/{id}/instance; null until the run has loaded its round"
        },
    )


class ProposalSchema(Schema):
    id = fields.Integer(required=True)
    run_id = fields.Integer(required=True)
    trainee_id = fields.Integer(required=True)
    slot_id = fields.Integer(required=True)
    rank = fields.Integer(allow_none=True)
    cost = fields.Float()
    terms = fields.Dict(keys=fields.String(), values=fields.Float())
    status = fields.String(validate=validate.OneOf(PROPOSAL_STATUSES))
    reason = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)


class ProposalQueryArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(PROPOSAL_STATUSES))


class UnplacedSchema(Schema):
    trainee_id = fields.Integer(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(UNPLACED_REASONS))


class SeatMoveSchema(Schema):
    trainee_id = fields.Integer(required=True)
    from_slot_id = fields.Integer(
        allow_none=True, metadata={"description": "null: the trainee was unplaced"}
    )
    to_slot_id = fields.Integer(
        allow_none=True, metadata={"description": "null: the trainee gives up their place"}
    )


class SeatValueSchema(Schema):
    slot_id = fields.Integer(required=True)
    placed_gain = fields.Integer(
        required=True, metadata={"description": "1 if one more seat here places one more"}
    )
    cost_change = fields.Float(
        required=True, metadata={"description": "change of the objective; negative = cheaper"}
    )
    would_place_trainee_id = fields.Integer(
        allow_none=True,
        metadata={
            "description": "placed_gain 1: the trainee one optimal re-solve with the extra "
            "seat places (one of several when ties allow); else null"
        },
    )
    moves = fields.List(
        fields.Nested(SeatMoveSchema),
        metadata={
            "description": "the chain of moves the extra seat sets off, in order: for "
            "placed_gain 1 the newly placed trainee first; for a saving, the cycle of moves"
        },
    )


class ChoiceExplanationSchema(Schema):
    slot_id = fields.Integer(required=True)
    rank = fields.Integer(required=True)
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(("placed", "ineligible", "full", "costlier", "lower_priority")),
    )
    detail = fields.String(required=True)


class ExplanationSchema(Schema):
    trainee_id = fields.Integer(required=True)
    mode = fields.String(validate=validate.OneOf(RUN_MODES))
    outcome = fields.String(required=True, validate=validate.OneOf(("placed", "unplaced")))
    slot_id = fields.Integer(allow_none=True)
    rank = fields.Integer(allow_none=True)
    choices = fields.List(fields.Nested(ChoiceExplanationSchema), required=True)
    counterfactual = fields.String(allow_none=True, required=True)


class RejectArgsSchema(Schema):
    reason = text(1000, required=True, min_length=1)


class PlacementSchema(Schema):
    id = fields.Integer(required=True)
    round_id = fields.Integer(required=True)
    trainee_id = fields.Integer(required=True)
    slot_id = fields.Integer(required=True)
    proposal_id = fields.Integer(allow_none=True)
    status = fields.String(validate=validate.OneOf(PLACEMENT_STATUSES))
    created_at = fields.DateTime()
    withdrawn_at = fields.DateTime(allow_none=True)
    offer_status = fields.String(
        allow_none=True,
        validate=validate.OneOf(OFFER_STATUSES),
        metadata={"description": "null before the round is published"},
    )
    offered_at = fields.DateTime(allow_none=True)
    offer_expires_at = fields.DateTime(allow_none=True)
    offer_decided_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "when the offer was accepted, declined, expired or withdrawn"},
    )


class RefusalSchema(Schema):
    proposal_id = fields.Integer()
    trainee_id = fields.Integer()
    slot_id = fields.Integer()
    reason = fields.String()


class ApproveAllSchema(Schema):
    approved = fields.Integer(required=True, metadata={"description": "proposals approved"})
    conflicts = fields.Integer(
        required=True, metadata={"description": "open proposals that no longer fit"}
    )
    refused = fields.List(
        fields.Nested(RefusalSchema),
        metadata={"description": "the open proposals that no longer fit, and why"},
    )


@blp.route("/rounds/<id:round_id>/runs")
class RoundRuns(MethodView):
    @allow("coordinator")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_of(RunSchema))
    @documented_errors(401, 404)
    def get(self, args: dict[str, Any], round_id: int) -> Any:
        """The round's match runs, newest first (coordinator)"""
        return runs.list_runs(
            session=db_session(), actor=current_actor(), round_id=round_id, **page_args(args)
        )

    @allow("coordinator")
    @blp.arguments(RunArgsSchema)
    @blp.response(202, RunSchema, headers={"Location": {"schema": {"type": "string"}}})
    @documented_errors(401, 404, 409)
    def post(self, args: dict[str, Any], round_id: int) -> Any:
        """Start a match run on a closed round, or a clearing run on a published one
        (coordinator); poll the Location"""
        run = runs.start_run(
            session=db_session(),
            actor=current_actor(),
            round_id=round_id,
            name=args.get("name", ""),
            weights=args.get("weights"),
            allow_unranked=args.get("allow_unranked", False),
            settings=settings_of(current_app),
            mode=args.get("mode", "optimal"),
            seed=args.get("seed", 0),
        )
        return run, 202, {"Location": url_for("runs.Run", run_id=run.id)}


@blp.route("/runs/<id:run_id>")
class Run(MethodView):
    @allow("coordinator")
    @blp.response(200, RunSchema)
    @documented_errors(401, 404)
    def get(self, run_id: int) -> Any:
        """One run, with its progress and, once done, its statistics (coordinator)"""
        return runs.get_run(session=db_session(), actor=current_actor(), run_id=run_id)


@blp.route("/runs/<id:run_id>/instance")
class RunInstance(MethodView):
    @allow("coordinator")
    @blp.response(
        200,
        {"type": "object", "description": "placement-instance/1, canonical JSON"},
        headers={
            "X-Instance-SHA256": {
                "description": "SHA-256 (hex) of the response body",
                "schema": {"type": "string"},
            }
        },
    )
    @documented_errors(401, 404)
    def get(self, run_id: int) -> Any:
        """The instance file the run solved, byte for byte as stored (coordinator)"""
        stored = runs.run_instance_file(session=db_session(), actor=current_actor(), run_id=run_id)
        return Response(
            stored.content,
            mimetype="application/json",
            headers={"X-Instance-SHA256": stored.sha256},
        )


@blp.route("/runs/<id:run_id>/proposals")
class Proposals(MethodView):
    @allow("coordinator")
    @blp.arguments(ProposalQueryArgsSchema, location="query")
    @blp.response(200, page_of(ProposalSchema))
    @documented_errors(401, 404)
    def get(self, args: dict[str, Any], run_id: int) -> Any:
        """The run's proposed matches, each with its cost terms (coordinator)"""
        return runs.list_proposals(
            session=db_session(),
            actor=current_actor(),
            run_id=run_id,
            status=args.get("status"),
            **page_args(args),
        )


@blp.route("/runs/<id:run_id>/unplaced")
class Unplaced(MethodView):
    @allow("coordinator")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_of(UnplacedSchema))
    @documented_errors(401, 404)
    def get(self, args: dict[str, Any], run_id: int) -> Any:
        """Trainees the run could not place, and why (coordinator)"""
        return runs.list_unplaced(
            session=db_session(), actor=current_actor(), run_id=run_id, **page_args(args)
        )


@blp.route("/runs/<id:run_id>/seat-values")
class SeatValues(MethodView):
    @allow("coordinator")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_of(SeatValueSchema))
    @documented_errors(401, 404, 409)
    def get(self, args: dict[str, Any], run_id: int) -> Any:
        """What one more seat at each slot would gain, and for whom (coordinator)"""
        return seat_moves.list_seat_values_with_moves(
            session=db_session(), actor=current_actor(), run_id=run_id, **page_args(args)
        )


@blp.route("/runs/<id:run_id>/explanations/<id:trainee_id>")
class Explanation(MethodView):
    @allow("coordinator")
    @blp.response(200, ExplanationSchema)
    @documented_errors(401, 404, 409)
    def get(self, run_id: int, trainee_id: int) -> Any:
        """Why the trainee got their outcome in the run, in words (coordinator)"""
        return runs.run_explanation(
            session=db_session(), actor=current_actor(), run_id=run_id, trainee_id=trainee_id
        )


@blp.route("/rounds/<id:round_id>/outcome")
class Outcome(MethodView):
    @allow("trainee")
    @blp.response(200, ExplanationSchema)
    @documented_errors(401, 404, 409)
    def get(self, round_id: int) -> Any:
        """The calling trainee's outcome explained; 409 before results are published
        (trainee)"""
        return runs.my_outcome(session=db_session(), actor=current_actor(), round_id=round_id)


@blp.route("/runs/<id:run_id>/approve-all")
class ApproveAll(MethodView):
    @allow("coordinator")
    @blp.arguments(AsyncArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, ApproveAllSchema)
    @blp.alt_response(202, **ACCEPTED)
    @documented_errors(401, 404, 409)
    def post(self, run_id: int, async_: bool = False) -> Any:
        """Approve every open proposal of the run that still fits (coordinator);
        ?async=true: 202 and a job"""
        if async_:
            return accepted(
                jobs.start_job(
                    session=db_session(),
                    actor=current_actor(),
                    settings=current_settings(),
                    kind="approve_all",
                    run_id=run_id,
                )
            )
        return approvals.approve_all(session=db_session(), actor=current_actor(), run_id=run_id)


@blp.route("/proposals/<id:proposal_id>/approve")
class Approve(MethodView):
    @allow("coordinator")
    @blp.response(200, PlacementSchema)
    @documented_errors(401, 404, 409)
    def post(self, proposal_id: int) -> Any:
        """Approve a proposal: the new placement; 409 if the slot is full or the trainee
        already placed (coordinator)"""
        return approvals.approve_proposal(
            session=db_session(), actor=current_actor(), proposal_id=proposal_id
        )


@blp.route("/proposals/<id:proposal_id>/reject")
class Reject(MethodView):
    @allow("coordinator")
    @blp.arguments(RejectArgsSchema)
    @blp.response(200, ProposalSchema)
    @documented_errors(401, 404, 409)
    def post(self, args: dict[str, Any], proposal_id: int) -> Any:
        """Reject a proposal, with a reason (coordinator)"""
        return approvals.reject_proposal(
            session=db_session(),
            actor=current_actor(),
            proposal_id=proposal_id,
            reason=args["reason"],
        )


@blp.route("/rounds/<id:round_id>/instance")
class Instance(MethodView):
    @allow("coordinator")
    @blp.arguments(AsyncArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, {"type": "object", "description": "placement-instance/1"})
    @blp.alt_response(202, **ACCEPTED)
    @documented_errors(401, 404)
    def get(self, round_id: int, async_: bool = False) -> Any:
        """The round as a self-contained instance file (coordinator); ?async=true: 202 and
        a job whose result is the file"""
        if async_:
            return accepted(
                jobs.start_job(
                    session=db_session(),
                    actor=current_actor(),
                    settings=current_settings(),
                    kind="export_instance",
                    round_id=round_id,
                )
            )
        content = instance_json.export_instance_file(
            session=db_session(), actor=current_actor(), round_id=round_id
        )
        return Response(content, mimetype="application/json")
