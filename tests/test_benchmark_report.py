"""Each benchmark rewrites only its own section of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

from benchmarks.report import write_section


def test_sections_are_replaced_in_place_and_kept_in_order(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.md"
    write_section("run-benchmarks", "## Runs\nfirst", path)
    write_section("solver-benchmarks", "# Solver\nold", path)
    write_section("import-benchmarks", "## Import\nonly", path)
    write_section("solver-benchmarks", "# Solver\nnew", path)
    text = path.read_text()
    assert "old" not in text
    assert text.index("# Solver") < text.index("## Runs") < text.index("## Import")
    assert text.count("<!-- solver-benchmarks:start -->") == 1
    assert "first" in text and "only" in text
