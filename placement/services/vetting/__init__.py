"""Vetting and safeguarding records: hosts' accreditations (with evidence files), the
coordinator's verification of a host (which lapses), DBS checks a coordinator saw, and the
safety details a host completes before a trainee starts.

Who may see what
    Accreditation records and their evidence: the owning employer and coordinators only
    (anyone else gets 404, as for a missing record). Trainees see, for verified hosts, the
    standards and whether each is current (`standards_of`). DBS checks: coordinators, and
    the trainee their own. Safety details: coordinators, the host of the placement, and
    the placed trainee once the round's results are published.
Lapsing
    A verification lapses (the host is unverified again, the record says when and why, and
    coordinators are told) when the owner changes the name, website or accreditations, and
    when an accreditation expires (`sweep`, run daily by `workers/vetting.py`).
"""

from __future__ import annotations

from placement.services.vetting.accreditations import (
    ACCREDITATION_FIELDS,
    Standard,
    create_accreditation,
    delete_accreditation,
    is_complete,
    is_current,
    list_accreditations,
    owner_edits,
    records_from_names,
    standards_of,
    update_accreditation,
)
from placement.services.vetting.dbs import (
    DbsStatus,
    RecordedCheck,
    counts_from,
    dbs_cutoff,
    dbs_status_of,
    erase_dbs,
    imported_status,
    list_dbs_checks,
    own_dbs_status,
    record_dbs_check,
    record_imported_checks,
)
from placement.services.vetting.evidence import (
    EVIDENCE_MAX_BYTES,
    EvidenceFile,
    Upload,
    attach_evidence,
    evidence_dir,
    evidence_of,
    remove_orphan_files,
    save_accreditation,
    sniff_evidence,
)
from placement.services.vetting.safety import (
    SAFETY_FIELDS,
    export_for,
    get_safety,
    is_safety_complete,
    safety_of,
    sign_off_safety,
    trainee_may_see_safety,
    update_safety,
)
from placement.services.vetting.sweep import (
    sweep,
)
from placement.services.vetting.verification import (
    current_verification,
    lapse,
    list_verifications,
    verify,
    verify_organisation,
)

__all__ = [
    "ACCREDITATION_FIELDS",
    "EVIDENCE_MAX_BYTES",
    "SAFETY_FIELDS",
    "DbsStatus",
    "EvidenceFile",
    "RecordedCheck",
    "Standard",
    "Upload",
    "attach_evidence",
    "counts_from",
    "create_accreditation",
    "current_verification",
    "dbs_cutoff",
    "dbs_status_of",
    "delete_accreditation",
    "erase_dbs",
    "evidence_dir",
    "evidence_of",
    "export_for",
    "get_safety",
    "imported_status",
    "is_complete",
    "is_current",
    "is_safety_complete",
    "lapse",
    "list_accreditations",
    "list_dbs_checks",
    "list_verifications",
    "own_dbs_status",
    "owner_edits",
    "record_dbs_check",
    "record_imported_checks",
    "records_from_names",
    "remove_orphan_files",
    "safety_of",
    "save_accreditation",
    "sign_off_safety",
    "sniff_evidence",
    "standards_of",
    "sweep",
    "trainee_may_see_safety",
    "update_accreditation",
    "update_safety",
    "verify",
    "verify_organisation",
]
