"""The front of a run: the round read as its instance file, decoded, stored on the run.

On Postgres the file is written in parts on two connections sharing one snapshot
(`instance_parts`) and the trainees' parts are decoded as they arrive
(`matching.decoding.PartsDecoder`, the same `Instance` as decoding the whole file); the
gzip and SHA-256 of the file are made in a thread while the decoding ends. Elsewhere, or
when the parts cannot write the file exactly, `instance_json.instance_file` writes it and
`parse_instance_json` decodes it. What is stored is what is solved (see `stored`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from sqlalchemy import update
from sqlalchemy.engine import Engine

from placement.db import session_scope
from placement.matching import Instance, InstanceError, parse_instance_json
from placement.matching.decoding import PartsDecoder
from placement.matching.memory import gc_paused
from placement.models import MatchRun, utcnow
from placement.services.instance_json import canonical_instance, instance_file
from placement.services.instance_parts import Parts, instance_file_in_parts
from placement.services.runs.claims import Claim, LostClaim, owned, rows_matched
from placement.services.runs.solving import SolverFailure
from placement.services.runs.stored import (
    erased_participants,
    lock_round_for_instances,
    pack_content,
    without_trainees,
)

log = logging.getLogger(__name__)


def load_instance(engine: Engine, claim: Claim) -> tuple[Instance, dict[str, Any]]:
    """Read the round as its instance file, validate it, store it on the run; the timings
    and left-out counts. The file is canonical JSON written by the database
    (`instance_json`), on Postgres in parts on two connections sharing one snapshot
    (`instance_parts`), the trainees' parts decoded by the engine's typed fast path as they
    arrive (`PartsDecoder`: the same instance as decoding the whole file); the gzip and
    SHA-256 of the file are made in a thread while the decoding ends. No document is built
    as Python objects. An invalid instance is stored too, so it can be examined offline."""
    t0 = time.perf_counter()
    decoder = PartsDecoder()
    with gc_paused(), ThreadPoolExecutor(1) as packer:
        try:
            parts = _read_in_parts(engine, claim, decoder)
            if parts is None:
                with session_scope(engine) as session:
                    document = instance_file(
                        session=session,
                        round_id=claim.round_id,
                        weights=claim.weights,
                        allow_unranked=claim.allow_unranked,
                        mode=claim.mode,
                        seed=claim.seed,
                        parallel=False,
                    )
            else:
                document = parts.document
        except ValueError as exc:  # a non-finite number
            raise SolverFailure(f"invalid instance: {exc}") from exc
        t1 = time.perf_counter()
        packing = packer.submit(pack_content, document.content)
        instance: Instance | None = None
        problem = ""
        if parts is not None:
            try:
                instance = decoder.finish(parts.header)
            except InstanceError:
                instance = None  # the whole file's decoding names the problem
        if instance is None:
            instance, problem = decode_file(document.content)
        t2 = time.perf_counter()
        packed = packing.result()
    content = store_attempt_instance(
        engine, claim, document.content, _trainee_ids(instance), packed=packed
    )
    if content is not document.content:
        instance, problem = decode_file(content)
    t3 = time.perf_counter()
    if instance is None:
        raise SolverFailure(f"invalid instance: {problem}")
    extra: dict[str, Any] = {
        "load_seconds": round(t1 - t0, 4),
        "store_seconds": round(t3 - t2, 4),
        "build_seconds": round(t2 - t1, 4),
        "trainees": len(instance.trainees),
        "slots": len(instance.slots),
    }
    if document.left_out:
        extra["left_out"] = document.left_out
    return instance, extra


def _read_in_parts(engine: Engine, claim: Claim, decoder: PartsDecoder) -> Parts | None:
    """The round's file written in parts on Postgres (None elsewhere, or when the parts
    cannot write it exactly: then `instance_file` does)."""
    if engine.dialect.name != "postgresql":
        return None
    return instance_file_in_parts(
        engine,
        claim.round_id,
        weights=claim.weights,
        allow_unranked=claim.allow_unranked,
        mode=claim.mode,
        seed=claim.seed,
        decoder=decoder,
    )


def decode_file(content: bytes) -> tuple[Instance | None, str]:
    """The instance of a file, or None and the one-line message saying what is wrong."""
    try:
        return parse_instance_json(content), ""
    except InstanceError as exc:
        return None, str(exc)


def _trainee_ids(instance: Instance | None) -> Collection[str] | None:
    if instance is None:
        return None
    return {str(t.id) for t in instance.trainees}


def store_attempt_instance(
    engine: Engine,
    claim: Claim,
    content: bytes,
    trainee_ids: Collection[str] | None = None,
    *,
    packed: tuple[bytes, str] | None = None,
) -> bytes:
    """Keep the instance file this attempt solves on the run; LostClaim if it is not ours.
    `trainee_ids` are the file's (read from it when not given); `packed`, its
    `pack_content` (made here when not given).

    Under the round's lock (shared with other attempts, exclusive with erasure), trainees
    erased since the round was read are left out of what is stored, and of what is solved:
    the file returned (`content` itself when nobody was left out). An erasure that commits
    later rewrites the stored file itself (see `stored`)."""
    gz, sha256 = pack_content(content) if packed is None else packed
    with session_scope(engine) as session:
        lock_round_for_instances(session, claim.round_id, exclusive=False)
        erased = erased_participants(session, claim.round_id)
        if erased:
            if trainee_ids is None:
                trainee_ids = {t["id"] for t in orjson.loads(content).get("trainees", [])}
            if erased & set(trainee_ids):
                log.info("run %s: leaving out trainees erased while it loaded", claim.run_id)
                content = canonical_instance(without_trainees(orjson.loads(content), erased))
                gz, sha256 = pack_content(content)
        stored = session.execute(
            update(MatchRun)
            .where(owned(claim))
            .values(instance_gz=gz, instance_sha256=sha256, heartbeat_at=utcnow())
        )
        if rows_matched(stored) != 1:
            raise LostClaim()
    return content
