"""Each benchmark owns one marked section of docs/benchmarks.md and rewrites only that."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
BENCHMARKS_MD = DOCS / "benchmarks.md"
ORDER = (
    "solver-benchmarks",
    "file-path-benchmarks",
    "stable-benchmarks",
    "run-benchmarks",
    "bulk-benchmarks",
    "import-benchmarks",
    "api-benchmarks",
)


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(name: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Put `body` between the markers of section `name`, keeping every other section.

    A section seen for the first time goes after the sections that come before it in
    ORDER, so the page reads solver, runs, import whichever benchmark ran first.
    """
    start, end = markers(name)
    region = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else ""
    if start in text and end in text.split(start, 1)[1]:
        before, rest = text.split(start, 1)
        path.write_text(before + region + rest.split(end, 1)[1])
        return
    later = [markers(other)[0] for other in ORDER[ORDER.index(name) + 1 :] if name in ORDER]
    positions = [text.index(m) for m in later if m in text]
    if positions:
        cut = min(positions)
        path.write_text(text[:cut] + region + "\n\n" + text[cut:])
    else:
        path.write_text((text.rstrip() + "\n\n" if text.strip() else "") + region + "\n")
