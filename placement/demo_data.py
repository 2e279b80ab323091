"""Fixed data for the West Midlands demo: hosts, slots, places, names and the skills vocabulary.

Every organisation, college and person here is fictional. Postcodes and coordinates are real
West Midlands places (science and business parks, hospital sites, town centres), so that
distances in the demo behave like the region's.
"""

from __future__ import annotations

from typing import NamedTuple

REGION = "West Midlands"

# --- the shared skills vocabulary, grouped by the sector's kinds of work -----------------

DISCIPLINES = (
    "Sample handling",
    "Quality and CAPA",
    "Regulatory affairs",
    "Imaging",
    "Wearable devices",
    "Diagnostics",
    "Clinical immunology",
    "Electrical safety testing",
)

SKILLS_BY_DISCIPLINE: dict[str, tuple[str, ...]] = {
    "Sample handling": (
        "sample reception",
        "chain of custody",
        "pipetting",
        "LIMS",
        "aseptic technique",
        "cold-chain storage",
    ),
    "Quality and CAPA": (
        "CAPA",
        "root cause analysis",
        "document control",
        "internal auditing",
        "ISO 13485",
        "risk management (ISO 14971)",
        "calibration",
        "method validation",
    ),
    "Regulatory affairs": (
        "technical writing",
        "UK MDR and UKCA marking",
        "technical documentation",
        "post-market surveillance",
        "clinical evaluation",
        "risk management (ISO 14971)",
    ),
    "Imaging": ("medical imaging", "DICOM", "image analysis", "Python", "equipment QA"),
    "Wearable devices": (
        "sensor integration",
        "embedded C",
        "Bluetooth Low Energy",
        "signal processing",
        "usability testing",
    ),
    "Diagnostics": (
        "immunoassays",
        "PCR",
        "point-of-care testing",
        "pipetting",
        "data analysis",
        "method validation",
    ),
    "Clinical immunology": (
        "ELISA",
        "flow cytometry",
        "autoantibody testing",
        "immunoassays",
        "ISO 15189",
        "patient confidentiality",
    ),
    "Electrical safety testing": (
        "IEC 60601 electrical safety",
        "EMC testing",
        "test equipment",
        "soldering",
        "fault finding",
        "calibration",
    ),
}

GENERAL_SKILLS = (
    "laboratory safety",
    "Microsoft Excel",
    "data analysis",
    "customer communication",
)


def _vocabulary() -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in SKILLS_BY_DISCIPLINE.values():
        seen.update(dict.fromkeys(group))
    seen.update(dict.fromkeys(GENERAL_SKILLS))
    return tuple(sorted(seen, key=str.lower))


SKILLS = _vocabulary()

# How often trainees name each kind of work as an interest (clinical and lab work is popular).
DISCIPLINE_INTEREST = {
    "Sample handling": 5,
    "Quality and CAPA": 3,
    "Regulatory affairs": 2,
    "Imaging": 3,
    "Wearable devices": 3,
    "Diagnostics": 5,
    "Clinical immunology": 4,
    "Electrical safety testing": 3,
}

# --- host organisations ------------------------------------------------------------------


class OrgSpec(NamedTuple):
    key: str
    name: str
    kind: str
    accreditations: tuple[str, ...]
    postcode: str
    latitude: float
    longitude: float
    website: str | None
    verified: bool


ORGANISATIONS: tuple[OrgSpec, ...] = (
    # Independent test laboratories (UKAS-accredited to ISO/IEC 17025).
    OrgSpec(
        "tame",
        "Tame Valley Test Laboratories",
        "test_lab",
        ("ISO/IEC 17025", "ISO 9001"),
        "B7 4BB",
        52.48950,
        -1.88550,
        "https://tamevalleylabs.example",
        True,
    ),
    OrgSpec(
        "smestow",
        "Smestow Compliance Testing",
        "test_lab",
        ("ISO/IEC 17025",),
        "WV10 9RU",
        52.60200,
        -2.13000,
        "https://smestowtesting.example",
        True,
    ),
    OrgSpec(
        "smite",
        "Smite Brook Electrical Safety Laboratory",
        "test_lab",
        ("ISO/IEC 17025",),
        "CV7 9JU",
        52.43800,
        -1.39900,
        "https://smitebrooklab.example",
        True,
    ),
    OrgSpec(
        "lickey",
        "Lickey Hills Analytical Services",
        "test_lab",
        ("ISO/IEC 17025", "ISO 9001"),
        "B31 2TS",
        52.39650,
        -1.98150,
        "https://lickeyanalytical.example",
        True,
    ),
    OrgSpec(
        "galton",
        "Galton Sterility and Biocompatibility Labs",
        "test_lab",
        ("ISO/IEC 17025",),
        "B70 8DX",
        52.51900,
        -1.99500,
        "https://galtonlabs.example",
        False,
    ),
    # Medical-device makers (quality systems certified to ISO 13485).
    OrgSpec(
        "sowe",
        "Sowe Valley Wearables Ltd",
        "device_maker",
        ("ISO 13485", "ISO 27001"),
        "CV4 7EZ",
        52.38600,
        -1.55600,
        "https://sowevalleywearables.example",
        True,
    ),
    OrgSpec(
        "fiveways",
        "Five Ways Imaging Systems",
        "device_maker",
        ("ISO 13485",),
        "B15 2SQ",
        52.45260,
        -1.93950,
        "https://fivewaysimaging.example",
        True,
    ),
    OrgSpec(
        "wrens",
        "Wrens Nest Medical Devices",
        "device_maker",
        ("ISO 13485", "ISO 14001"),
        "DY1 1HF",
        52.51200,
        -2.08300,
        "https://wrensnestmedical.example",
        True,
    ),
    OrgSpec(
        "blythe",
        "Blythe Point-of-Care Diagnostics",
        "device_maker",
        ("ISO 13485",),
        "B90 8AG",
        52.37900,
        -1.74600,
        "https://blythepoc.example",
        True,
    ),
    OrgSpec(
        "saddlers",
        "Saddlers Respiratory Devices",
        "device_maker",
        ("ISO 13485",),
        "WS1 1TP",
        52.58600,
        -1.98200,
        "https://saddlersrespiratory.example",
        True,
    ),
    OrgSpec(
        "tettenhall",
        "Tettenhall Medical Electronics",
        "device_maker",
        ("ISO 13485",),
        "WV1 1SH",
        52.58500,
        -2.12800,
        "https://tettenhallmedical.example",
        False,
    ),
    # Hospital clinical laboratories (accredited to ISO 15189).
    OrgSpec(
        "rea",
        "Rea Valley University Hospitals NHS Foundation Trust, Clinical Immunology Service",
        "clinical_lab",
        ("ISO 15189",),
        "B15 2GW",
        52.45300,
        -1.93800,
        "https://www.reavalleyhospitals.example/immunology",
        True,
    ),
    OrgSpec(
        "cole",
        "Cole Valley Hospitals NHS Trust, Blood Sciences Laboratory",
        "clinical_lab",
        ("ISO 15189",),
        "B9 5SS",
        52.48000,
        -1.82700,
        "https://www.colevalleyhospitals.example/pathology",
        True,
    ),
    OrgSpec(
        "sherbourne",
        "Sherbourne University Hospitals NHS Trust, Microbiology and Virology",
        "clinical_lab",
        ("ISO 15189",),
        "CV2 2DX",
        52.42100,
        -1.43900,
        "https://www.sherbournehospitals.example/microbiology",
        True,
    ),
    OrgSpec(
        "stour",
        "Stour Valley Hospitals NHS Trust, Clinical Biochemistry",
        "clinical_lab",
        ("ISO 15189",),
        "DY1 2HQ",
        52.50900,
        -2.10500,
        "https://www.stourvalleyhospitals.example/biochemistry",
        True,
    ),
    OrgSpec(
        "penn",
        "Penn Brook Hospitals NHS Trust, Immunology and Allergy Laboratory",
        "clinical_lab",
        ("ISO 15189",),
        "WV10 0QP",
        52.59900,
        -2.09600,
        "https://www.pennbrookhospitals.example/immunology",
        True,
    ),
)

# The demo employer's organisation: verified, with slots in both rounds.
EMPLOYER_ORG_KEY = "tame"

# --- placement slots ---------------------------------------------------------------------


class SlotSpec(NamedTuple):
    org: str
    title: str
    discipline: str
    description: str
    skills: tuple[str, ...]
    min_level: int
    capacity: int
    requires_dbs: bool = False
    remote: bool = False


_SH, _QC, _RA, _IM, _WD, _DX, _CI, _ES = DISCIPLINES

SLOTS: tuple[SlotSpec, ...] = (
    # Tame Valley Test Laboratories
    SlotSpec(
        "tame",
        "Sample reception technician",
        _SH,
        "Book in client samples, check seals and paperwork against the chain-of-custody record "
        "and log each item in the LIMS. You will see how an accredited lab keeps evidence "
        "traceable from the door to the final report.",
        ("sample reception", "chain of custody", "LIMS"),
        4,
        3,
    ),
    SlotSpec(
        "tame",
        "Chain-of-custody and storage assistant",
        _SH,
        "Manage retained samples in ambient, chilled and frozen storage, run the temperature "
        "logging checks and prepare items for return or disposal under documented procedures.",
        ("chain of custody", "cold-chain storage", "laboratory safety"),
        4,
        2,
    ),
    SlotSpec(
        "tame",
        "Electrical safety test technician",
        _ES,
        "Run earth-bond, leakage-current and insulation tests on client devices under "
        "supervision and record the results for the IEC 60601-1 test report.",
        ("IEC 60601 electrical safety", "test equipment", "fault finding"),
        4,
        2,
    ),
    SlotSpec(
        "tame",
        "Quality assistant (CAPA and audits)",
        _QC,
        "Help the quality manager track nonconformities to closure, gather evidence for CAPAs "
        "and prepare for the annual ISO/IEC 17025 surveillance visit.",
        ("CAPA", "root cause analysis", "document control"),
        5,
        1,
    ),
    # Smestow Compliance Testing
    SlotSpec(
        "smestow",
        "EMC pre-compliance test assistant",
        _ES,
        "Set up radiated and conducted emissions scans on wearable and bedside devices and help "
        "engineers read the results against IEC 60601-1-2.",
        ("EMC testing", "test equipment", "signal processing"),
        5,
        2,
    ),
    SlotSpec(
        "smestow",
        "Electrical safety testing trainee",
        _ES,
        "Carry out routine electrical safety checks on returned medical equipment, record the "
        "readings and flag failures for engineering review.",
        ("IEC 60601 electrical safety", "calibration", "fault finding"),
        4,
        3,
    ),
    SlotSpec(
        "smestow",
        "Calibration technician",
        _QC,
        "Keep the calibration schedule for meters and analysers, check certificates on receipt "
        "and quarantine out-of-tolerance equipment.",
        ("calibration", "document control", "test equipment"),
        4,
        1,
    ),
    # Smite Brook Electrical Safety Laboratory
    SlotSpec(
        "smite",
        "Electrical safety test technician",
        _ES,
        "Test home-use and bedside devices for leakage current, dielectric strength and "
        "protective earth, working to written test plans.",
        ("IEC 60601 electrical safety", "test equipment", "laboratory safety"),
        4,
        2,
    ),
    SlotSpec(
        "smite",
        "Test rig builder",
        _ES,
        "Build and verify test fixtures and cable looms for the safety lab, including "
        "soldering, continuity checks and labelling.",
        ("soldering", "test equipment", "fault finding"),
        4,
        2,
    ),
    SlotSpec(
        "smite",
        "Test report writer",
        _RA,
        "Turn raw test records into clear, reviewable test reports and help keep the report "
        "templates in line with the lab's ISO/IEC 17025 scope.",
        ("technical writing", "document control", "IEC 60601 electrical safety"),
        5,
        1,
    ),
    # Lickey Hills Analytical Services
    SlotSpec(
        "lickey",
        "Sample handling technician",
        _SH,
        "Receive swabs and extracts for cleanliness and bioburden testing, keep the "
        "chain-of-custody forms complete and prepare samples for analysis.",
        ("sample reception", "chain of custody", "aseptic technique"),
        4,
        3,
    ),
    SlotSpec(
        "lickey",
        "Bioburden laboratory assistant",
        _DX,
        "Support bioburden and endotoxin testing of device components: plate counts, aseptic "
        "work in the safety cabinet and careful data entry.",
        ("aseptic technique", "pipetting", "data analysis"),
        4,
        2,
    ),
    SlotSpec(
        "lickey",
        "Method validation assistant",
        _QC,
        "Help validate a new extraction method: plan replicate runs, work out precision and "
        "bias in Excel and draft the validation summary.",
        ("method validation", "data analysis", "Microsoft Excel"),
        5,
        1,
    ),
    # Sowe Valley Wearables
    SlotSpec(
        "sowe",
        "Wearable sensor test technician",
        _WD,
        "Bench-test the optical heart-rate and skin-temperature sensors on a patch wearable and "
        "log drift and noise against the verification plan.",
        ("sensor integration", "signal processing", "test equipment"),
        4,
        2,
    ),
    SlotSpec(
        "sowe",
        "Embedded firmware trainee",
        _WD,
        "Work with the firmware team on Bluetooth Low Energy connection handling and power "
        "profiling for a continuous-monitoring patch.",
        ("embedded C", "Bluetooth Low Energy", "sensor integration"),
        5,
        2,
    ),
    SlotSpec(
        "sowe",
        "Usability study assistant",
        _WD,
        "Help run formative usability sessions with patients and carers, note use errors and "
        "feed the findings into the usability engineering file.",
        ("usability testing", "customer communication", "technical writing"),
        4,
        1,
    ),
    SlotSpec(
        "sowe",
        "Regulatory affairs assistant (technical file)",
        _RA,
        "Maintain sections of the UKCA technical documentation for a Class IIa wearable, "
        "cross-referencing test evidence and risk controls. Remote, with a site day each month.",
        ("technical documentation", "UK MDR and UKCA marking", "technical writing"),
        5,
        1,
        remote=True,
    ),
    SlotSpec(
        "sowe",
        "Quality systems trainee",
        _QC,
        "Support the ISO 13485 quality system: process change requests, update controlled "
        "documents and prepare CAPA records for review.",
        ("ISO 13485", "document control", "CAPA"),
        4,
        2,
    ),
    # Five Ways Imaging Systems
    SlotSpec(
        "fiveways",
        "Imaging test technician",
        _IM,
        "Scan image-quality phantoms with our ultrasound probes, measure resolution and "
        "uniformity, and log the results for design verification.",
        ("medical imaging", "equipment QA", "image analysis"),
        4,
        2,
    ),
    SlotSpec(
        "fiveways",
        "Imaging data analyst (AI-assisted imaging)",
        _IM,
        "Curate and de-identify DICOM studies used to evaluate an AI-assisted measurement tool, "
        "and script summary statistics in Python.",
        ("DICOM", "Python", "image analysis"),
        5,
        2,
    ),
    SlotSpec(
        "fiveways",
        "Regulatory writer (software as a medical device)",
        _RA,
        "Draft and update the technical documentation and clinical evaluation for imaging "
        "software. Fully remote, with weekly online reviews.",
        ("technical writing", "clinical evaluation", "technical documentation"),
        5,
        1,
        remote=True,
    ),
    SlotSpec(
        "fiveways",
        "Installation and service assistant",
        _IM,
        "Join field engineers installing and acceptance-testing imaging workstations at "
        "hospital sites across the region.",
        ("equipment QA", "fault finding", "customer communication"),
        4,
        1,
        requires_dbs=True,
    ),
    SlotSpec(
        "fiveways",
        "Post-market surveillance assistant",
        _RA,
        "Triage customer complaints and field reports, trend them each month and help prepare "
        "the post-market surveillance report.",
        ("post-market surveillance", "data analysis", "CAPA"),
        4,
        1,
    ),
    # Wrens Nest Medical Devices
    SlotSpec(
        "wrens",
        "Production quality inspector",
        _QC,
        "Inspect machined surgical instruments against drawings, record measurements and raise "
        "nonconformance reports when parts fall outside tolerance.",
        ("calibration", "document control", "CAPA"),
        4,
        3,
    ),
    SlotSpec(
        "wrens",
        "Sterile packaging and traceability technician",
        _SH,
        "Package and label implants in the cleanroom, keep lot traceability records complete "
        "and support the release of sterilisation loads.",
        ("aseptic technique", "chain of custody", "document control"),
        4,
        2,
    ),
    SlotSpec(
        "wrens",
        "CAPA coordinator trainee",
        _QC,
        "Run root-cause investigations with production teams and track CAPA actions through to "
        "their effectiveness checks.",
        ("root cause analysis", "CAPA", "internal auditing"),
        5,
        1,
    ),
    SlotSpec(
        "wrens",
        "Regulatory affairs assistant",
        _RA,
        "Help prepare UKCA and EU MDR submissions for orthopaedic instruments, including "
        "labelling reviews and standards gap assessments.",
        ("UK MDR and UKCA marking", "technical documentation", "risk management (ISO 14971)"),
        5,
        1,
    ),
    # Blythe Point-of-Care Diagnostics
    SlotSpec(
        "blythe",
        "Assay development technician",
        _DX,
        "Prepare reagents and run lateral-flow and immunoassay development experiments, "
        "recording the results in the electronic lab notebook.",
        ("immunoassays", "pipetting", "data analysis"),
        4,
        2,
    ),
    SlotSpec(
        "blythe",
        "Point-of-care test verification assistant",
        _DX,
        "Run verification studies on a point-of-care analyser, including precision and "
        "interference testing, and help write up the results.",
        ("point-of-care testing", "method validation", "data analysis"),
        5,
        2,
    ),
    SlotSpec(
        "blythe",
        "Molecular diagnostics trainee",
        _DX,
        "Support PCR runs for a respiratory panel, from sample preparation to result review, "
        "in a containment level 2 laboratory.",
        ("PCR", "pipetting", "aseptic technique"),
        5,
        1,
    ),
    SlotSpec(
        "blythe",
        "Regulatory writer (in-vitro diagnostics)",
        _RA,
        "Draft performance evaluation and labelling documents for in-vitro diagnostic devices. "
        "Remote, with site visits for training.",
        ("technical writing", "technical documentation", "post-market surveillance"),
        5,
        1,
        remote=True,
    ),
    SlotSpec(
        "blythe",
        "Supplier quality assistant",
        _QC,
        "Help qualify and monitor reagent suppliers: review certificates of analysis, schedule "
        "supplier audits and log deviations.",
        ("ISO 13485", "internal auditing", "document control"),
        4,
        1,
    ),
    # Saddlers Respiratory Devices
    SlotSpec(
        "saddlers",
        "Device test technician (respiratory)",
        _ES,
        "Run functional and electrical safety tests on home oxygen concentrators before release "
        "and log the results in the device history record.",
        ("IEC 60601 electrical safety", "test equipment", "document control"),
        4,
        2,
    ),
    SlotSpec(
        "saddlers",
        "Connected device trainee",
        _WD,
        "Help integrate a pulse-oximetry sensor module with its mobile app, testing data "
        "transfer over Bluetooth Low Energy and logging defects.",
        ("Bluetooth Low Energy", "sensor integration", "usability testing"),
        4,
        1,
    ),
    SlotSpec(
        "saddlers",
        "Quality and CAPA assistant",
        _QC,
        "Support complaint investigations and CAPA for a respiratory product line, collecting "
        "evidence and updating the risk management file.",
        ("CAPA", "root cause analysis", "risk management (ISO 14971)"),
        5,
        1,
    ),
    # Rea Valley University Hospitals: Clinical Immunology Service
    SlotSpec(
        "rea",
        "Clinical immunology support technician",
        _CI,
        "Process patient samples for autoantibody and allergy testing, run ELISA plates under "
        "supervision and keep the ISO 15189 records up to date.",
        ("ELISA", "autoantibody testing", "sample reception"),
        4,
        3,
        requires_dbs=True,
    ),
    SlotSpec(
        "rea",
        "Flow cytometry laboratory assistant",
        _CI,
        "Prepare samples for lymphocyte subset analysis, run the daily flow cytometer QC and "
        "file results for review by a clinical scientist.",
        ("flow cytometry", "pipetting", "equipment QA"),
        5,
        2,
        requires_dbs=True,
    ),
    SlotSpec(
        "rea",
        "Specimen reception and tracking assistant",
        _SH,
        "Receive and triage specimens from wards and GP surgeries, resolve labelling errors and "
        "track urgent samples through the laboratory.",
        ("sample reception", "chain of custody", "patient confidentiality"),
        4,
        3,
        requires_dbs=True,
    ),
    SlotSpec(
        "rea",
        "Quality officer trainee (ISO 15189)",
        _QC,
        "Help prepare for the UKAS assessment: run vertical audits, follow up nonconformities "
        "and keep standard operating procedures current.",
        ("ISO 15189", "internal auditing", "document control"),
        5,
        1,
        requires_dbs=True,
    ),
    # Cole Valley Hospitals: Blood Sciences
    SlotSpec(
        "cole",
        "Blood sciences laboratory assistant",
        _DX,
        "Load and monitor the automated chemistry and haematology analysers, run internal "
        "quality control and look after sample storage.",
        ("immunoassays", "sample reception", "equipment QA"),
        4,
        3,
        requires_dbs=True,
    ),
    SlotSpec(
        "cole",
        "Point-of-care testing support trainee",
        _DX,
        "Support the point-of-care team: train ward staff on glucose and blood gas meters, "
        "check QC records and look after device connectivity.",
        ("point-of-care testing", "customer communication", "data analysis"),
        5,
        1,
        requires_dbs=True,
    ),
    SlotSpec(
        "cole",
        "Sample logistics assistant",
        _SH,
        "Coordinate sample transport between hospital sites, check temperature logs and keep "
        "the chain of custody for referred samples.",
        ("chain of custody", "cold-chain storage", "LIMS"),
        4,
        2,
        requires_dbs=True,
    ),
    # Sherbourne University Hospitals: Microbiology and Virology
    SlotSpec(
        "sherbourne",
        "Microbiology laboratory assistant",
        _DX,
        "Process urine, swab and blood-culture samples, prepare media and help with PCR "
        "screening under the supervision of biomedical scientists.",
        ("aseptic technique", "PCR", "sample reception"),
        4,
        3,
        requires_dbs=True,
    ),
    SlotSpec(
        "sherbourne",
        "Virology PCR trainee",
        _DX,
        "Run nucleic acid extraction and real-time PCR for respiratory viruses, and review the "
        "run controls with the duty scientist.",
        ("PCR", "pipetting", "LIMS"),
        5,
        2,
        requires_dbs=True,
    ),
    SlotSpec(
        "sherbourne",
        "Laboratory data trainee",
        _DX,
        "Help the laboratory IT team validate LIMS updates and build turnaround-time "
        "dashboards from result data.",
        ("LIMS", "data analysis", "Python"),
        5,
        1,
        requires_dbs=True,
    ),
    # Stour Valley Hospitals: Clinical Biochemistry
    SlotSpec(
        "stour",
        "Clinical biochemistry assistant",
        _DX,
        "Run the routine biochemistry and immunoassay analysers, carry out daily maintenance "
        "and help investigate out-of-range QC.",
        ("immunoassays", "equipment QA", "sample reception"),
        4,
        2,
        requires_dbs=True,
    ),
    SlotSpec(
        "stour",
        "Specimen reception assistant",
        _SH,
        "Book in specimens, check that request forms match sample labels and keep the audit "
        "trail for rejected samples.",
        ("sample reception", "chain of custody", "patient confidentiality"),
        4,
        2,
        requires_dbs=True,
    ),
    SlotSpec(
        "stour",
        "Quality and document control assistant",
        _QC,
        "Keep the laboratory's controlled documents, training records and incident log in "
        "order for the next ISO 15189 assessment.",
        ("document control", "ISO 15189", "CAPA"),
        4,
        1,
        requires_dbs=True,
    ),
    # Penn Brook Hospitals: Immunology and Allergy Laboratory
    SlotSpec(
        "penn",
        "Immunology laboratory assistant",
        _CI,
        "Run allergen-specific IgE and autoantibody screening assays, prepare reagents and "
        "record results in the laboratory system.",
        ("immunoassays", "autoantibody testing", "ELISA"),
        4,
        2,
        requires_dbs=True,
    ),
    SlotSpec(
        "penn",
        "Immunology quality trainee",
        _CI,
        "Take part in external quality assessment: handle EQA samples, compare results with "
        "peer laboratories and help document corrective actions.",
        ("ISO 15189", "CAPA", "ELISA"),
        5,
        1,
        requires_dbs=True,
    ),
    SlotSpec(
        "penn",
        "Allergy clinic sample coordinator",
        _SH,
        "Manage samples from the allergy clinic, including challenge-test timings, labelling "
        "and secure storage.",
        ("sample reception", "chain of custody", "patient confidentiality"),
        4,
        1,
        requires_dbs=True,
    ),
)

# The open (autumn) round re-offers some of the spring posts: (organisation, title, capacity).
AUTUMN_SLOTS: tuple[tuple[str, str, int], ...] = (
    ("tame", "Sample reception technician", 2),
    ("tame", "Electrical safety test technician", 2),
    ("tame", "Quality assistant (CAPA and audits)", 1),
    ("smestow", "Electrical safety testing trainee", 2),
    ("sowe", "Wearable sensor test technician", 2),
    ("sowe", "Regulatory affairs assistant (technical file)", 1),
    ("fiveways", "Imaging test technician", 1),
    ("wrens", "CAPA coordinator trainee", 1),
    ("blythe", "Assay development technician", 2),
    ("blythe", "Regulatory writer (in-vitro diagnostics)", 1),
    ("rea", "Clinical immunology support technician", 2),
    ("rea", "Specimen reception and tracking assistant", 2),
    ("sherbourne", "Microbiology laboratory assistant", 2),
    ("penn", "Immunology laboratory assistant", 1),
)

# Spring slots whose employers ranked their applicants before the round closed.
RANKED_SLOTS: tuple[tuple[str, str], ...] = (
    ("tame", "Sample reception technician"),
    ("tame", "Electrical safety test technician"),
    ("rea", "Clinical immunology support technician"),
    ("fiveways", "Imaging data analyst (AI-assisted imaging)"),
    ("sowe", "Embedded firmware trainee"),
    ("blythe", "Assay development technician"),
)

# --- where trainees live and study -------------------------------------------------------


class Town(NamedTuple):
    name: str
    area: str  # the borough, which decides the usual college
    districts: tuple[str, ...]
    latitude: float
    longitude: float
    weight: int  # roughly in proportion to population


TOWNS: tuple[Town, ...] = (
    Town("Birmingham city centre", "Birmingham", ("B5", "B12", "B16"), 52.4797, -1.9026, 5),
    Town("Erdington", "Birmingham", ("B23", "B24"), 52.5230, -1.8390, 4),
    Town("Selly Oak", "Birmingham", ("B29",), 52.4410, -1.9370, 3),
    Town("Kings Heath", "Birmingham", ("B14",), 52.4340, -1.8940, 3),
    Town("Handsworth", "Birmingham", ("B20", "B21"), 52.5030, -1.9330, 4),
    Town("Sparkhill", "Birmingham", ("B11",), 52.4590, -1.8630, 4),
    Town("Small Heath", "Birmingham", ("B10",), 52.4720, -1.8580, 3),
    Town("Northfield", "Birmingham", ("B31",), 52.4150, -1.9660, 3),
    Town("Acocks Green", "Birmingham", ("B27",), 52.4480, -1.8190, 2),
    Town("Sutton Coldfield", "Birmingham", ("B72", "B73"), 52.5630, -1.8230, 3),
    Town("Aston", "Birmingham", ("B6",), 52.5040, -1.8840, 2),
    Town("Yardley", "Birmingham", ("B25", "B26"), 52.4750, -1.7950, 2),
    Town("Coventry city centre", "Coventry", ("CV1",), 52.4068, -1.5197, 4),
    Town("Foleshill", "Coventry", ("CV6",), 52.4290, -1.5040, 3),
    Town("Tile Hill", "Coventry", ("CV4",), 52.3980, -1.5900, 2),
    Town("Binley", "Coventry", ("CV3",), 52.4040, -1.4550, 2),
    Town("Earlsdon", "Coventry", ("CV5",), 52.3990, -1.5320, 2),
    Town("Wolverhampton", "Wolverhampton", ("WV1", "WV2", "WV3"), 52.5862, -2.1288, 4),
    Town("Bilston", "Wolverhampton", ("WV14",), 52.5660, -2.0730, 2),
    Town("Wednesfield", "Wolverhampton", ("WV11",), 52.5990, -2.0830, 2),
    Town("Tettenhall", "Wolverhampton", ("WV6",), 52.5960, -2.1640, 1),
    Town("Walsall", "Walsall", ("WS1", "WS2", "WS5"), 52.5862, -1.9829, 4),
    Town("Willenhall", "Walsall", ("WV13",), 52.5850, -2.0550, 2),
    Town("Bloxwich", "Walsall", ("WS3",), 52.6170, -2.0000, 2),
    Town("Aldridge", "Walsall", ("WS9",), 52.6050, -1.9180, 1),
    Town("Dudley", "Dudley", ("DY1", "DY2"), 52.5123, -2.0811, 3),
    Town("Brierley Hill", "Dudley", ("DY5",), 52.4810, -2.1200, 2),
    Town("Stourbridge", "Dudley", ("DY8",), 52.4560, -2.1480, 2),
    Town("Halesowen", "Dudley", ("B62", "B63"), 52.4490, -2.0500, 2),
    Town("Sedgley", "Dudley", ("DY3",), 52.5400, -2.1230, 1),
    Town("Solihull", "Solihull", ("B91",), 52.4130, -1.7780, 3),
    Town("Shirley", "Solihull", ("B90",), 52.4050, -1.8240, 2),
    Town("Chelmsley Wood", "Solihull", ("B37",), 52.4800, -1.7310, 2),
    Town("West Bromwich", "Sandwell", ("B70", "B71"), 52.5187, -1.9945, 3),
    Town("Oldbury", "Sandwell", ("B68", "B69"), 52.5050, -2.0160, 2),
    Town("Smethwick", "Sandwell", ("B66", "B67"), 52.4930, -1.9670, 2),
    Town("Tipton", "Sandwell", ("DY4",), 52.5290, -2.0660, 2),
    Town("Wednesbury", "Sandwell", ("WS10",), 52.5510, -2.0230, 1),
)

# Fictional colleges and training providers, by borough.
PROVIDERS: dict[str, tuple[str, ...]] = {
    "Birmingham": ("Eastside Technical College", "Digbeth Institute of Health Technology"),
    "Coventry": ("Godiva Technical College",),
    "Wolverhampton": ("Dunstall Hill College",),
    "Walsall": ("Wyrley and Essington College",),
    "Dudley": ("Castle Hill Technical College",),
    "Solihull": ("Elmdon Park College",),
    "Sandwell": ("Sandwell Canalside College",),
}

FIRST_NAMES = (
    "Aaliyah", "Aaron", "Abdul", "Adam", "Aisha", "Alfie", "Amelia", "Amir", "Anika", "Arjun",
    "Ayesha", "Bethany", "Callum", "Chloe", "Connor", "Daniel", "Darnell", "Deepa", "Eleanor",
    "Ellie", "Emeka", "Ethan", "Fatima", "Freya", "Gurpreet", "Hannah", "Harpreet", "Harry",
    "Hassan", "Imani", "Isaac", "Jack", "Jasmine", "Jayden", "Jessica", "Kai", "Kieran",
    "Leah", "Liam", "Lucy", "Maryam", "Mason", "Megan", "Mohammed", "Nadia", "Nathan", "Nia",
    "Niamh", "Oliver", "Olivia", "Omar", "Priya", "Rajan", "Reece", "Rhys", "Ruby", "Ryan",
    "Safiya", "Sam", "Sana", "Sophie", "Tariq", "Tegan", "Tom", "Tyler", "Usman", "Wiktoria",
    "Yusuf", "Zainab", "Zara",
)  # fmt: skip

SURNAMES = (
    "Ahmed", "Ali", "Allen", "Asante", "Atwal", "Bailey", "Baker", "Begum", "Bennett", "Bibi",
    "Brown", "Campbell", "Chauhan", "Clarke", "Cooper", "Davies", "Dhillon", "Edwards", "Evans",
    "Gill", "Green", "Griffiths", "Hall", "Hughes", "Hussain", "Iqbal", "Jackson", "James",
    "Johal", "Johnson", "Jones", "Kaur", "Khan", "Kowalski", "Lewis", "Mahmood", "Malik",
    "Mensah", "Mistry", "Morgan", "Nowak", "O'Brien", "Okoro", "Parker", "Patel", "Phillips",
    "Price", "Rahman", "Riley", "Roberts", "Sandhu", "Shah", "Sharma", "Singh", "Smith",
    "Taylor", "Thomas", "Thompson", "Turner", "Walker", "Ward", "Williams", "Wilson", "Wright",
    "Yusuf",
)  # fmt: skip

NEEDS = (
    "Uses a wheelchair: needs a step-free site and an accessible toilet.",
    "Dyslexic: written instructions and extra time with documents help.",
    "Carer for a parent: needs to finish by 3pm on Fridays.",
    "Hearing impaired: prefers written briefings; uses a hearing loop where available.",
    "Type 1 diabetes: needs short breaks to check blood glucose.",
    "Relies on public transport: a site near a bus or Metro stop helps.",
)

# The demo trainee's own ranked lists (clinical immunology and sample handling, near Erdington).
DEMO_TRAINEE_SPRING_CHOICES: tuple[tuple[str, str], ...] = (
    ("rea", "Clinical immunology support technician"),
    ("rea", "Specimen reception and tracking assistant"),
    ("tame", "Sample reception technician"),
    ("rea", "Flow cytometry laboratory assistant"),
    ("cole", "Sample logistics assistant"),
    ("tame", "Chain-of-custody and storage assistant"),
    ("penn", "Immunology laboratory assistant"),
)
DEMO_TRAINEE_AUTUMN_CHOICES: tuple[tuple[str, str], ...] = (
    ("rea", "Clinical immunology support technician"),
    ("tame", "Sample reception technician"),
    ("rea", "Specimen reception and tracking assistant"),
    ("penn", "Immunology laboratory assistant"),
)
