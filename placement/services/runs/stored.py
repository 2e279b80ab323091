"""The instance file a run solved, stored on the run.

The attempt that loads the round stores the instance file it built on the run (gzip of
the canonical JSON, and the SHA-256 of that JSON) before it solves; claiming a run clears
what an earlier attempt stored. So the stored instance is always the one the current (or
last) attempt solved, and the one behind a succeeded run's proposals. Fanned-out component
tasks and the merge read that stored instance rather than the round, and explanations read
it rather than the round as it is now.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from placement.errors import NotFound
from placement.models import MatchRun, User
from placement.services.common import require_role

# gzip level of stored instances: at 145,000 trainees level 1 turns 58 MB of JSON into 12 MB
# in 0.45 s; level 6 saves 3 MB more for 1.2 s more in the run's critical path.
INSTANCE_GZIP_LEVEL = 1


@dataclass(frozen=True)
class InstanceFile:
    """An instance file exactly as a run stored it: canonical JSON bytes and their SHA-256."""

    content: bytes
    sha256: str

    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.content)
        return loaded


def canonical_instance(data: Mapping[str, Any]) -> bytes:
    """The canonical JSON of an instance: sorted keys, no whitespace, ASCII only.

    The same document always gives the same bytes, so its SHA-256 identifies it.
    """
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode("ascii")


def pack_instance(data: Mapping[str, Any]) -> tuple[bytes, str]:
    """What a run stores: the gzip of the canonical JSON (no timestamp in the header, so
    the bytes are reproducible too) and the hex SHA-256 of the uncompressed JSON."""
    content = canonical_instance(data)
    packed = gzip.compress(content, compresslevel=INSTANCE_GZIP_LEVEL, mtime=0)
    return packed, hashlib.sha256(content).hexdigest()


def unpack_instance(run_id: int, packed: bytes, sha256: str | None) -> InstanceFile:
    content = gzip.decompress(packed)
    digest = hashlib.sha256(content).hexdigest()
    if sha256 is not None and digest != sha256:
        # Not a user error: the stored bytes were damaged or written behind our back.
        raise RuntimeError(f"run {run_id}: the stored instance does not match its SHA-256")
    return InstanceFile(content=content, sha256=digest)


def stored_instance(*, session: Session, run_id: int) -> InstanceFile:
    """The instance file the run solved (or is solving), exactly as stored.

    No authorisation: for the CLI and other services; callers acting for a user use
    `run_instance_file`. NotFound for an unknown run and for a run with no stored instance
    (it has not loaded its round yet, or ran before runs kept their instances).
    """
    row = session.execute(
        sa_select(col(MatchRun.instance_gz), col(MatchRun.instance_sha256)).where(
            col(MatchRun.id) == run_id
        )
    ).first()
    if row is None:
        raise NotFound("No such run.")
    if row.instance_gz is None:
        raise NotFound(
            "No instance is stored for this run: it has not loaded its round yet, or it ran "
            "before runs kept their instances (export the round's instance instead)."
        )
    return unpack_instance(run_id, row.instance_gz, row.instance_sha256)


def run_instance_file(*, session: Session, actor: User | None, run_id: int) -> InstanceFile:
    """The run's stored instance file with its SHA-256; coordinators only."""
    require_role(actor, "coordinator")
    return stored_instance(session=session, run_id=run_id)


def run_instance(*, session: Session, actor: User | None, run_id: int) -> dict[str, Any]:
    """The `placement-instance/1` document the run solved; coordinators only."""
    return run_instance_file(session=session, actor=actor, run_id=run_id).data()
