"""`placement solve INSTANCE.json|-`: the offline solve, without a database."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TextIO

from .decoding import parse_instance_json
from .instance import MODES, InstanceError
from .result import result_to_json
from .solver import solve


def run_solve_cli(path: str, stdout: TextIO, stderr: TextIO, *, mode: str | None = None) -> int:
    """Solve the instance file at ``path`` (``"-"`` for standard input).

    Parameters
    ----------
    path : str
        Instance file, or ``"-"`` to read standard input.
    stdout, stderr : text streams
        The result JSON goes to ``stdout``; a one-line error to ``stderr``.
    mode : {"optimal", "stable"}, optional
        Overrides the instance's ``mode``. The result carries ``mode``, and ``lottery``
        (stable) or ``seat_values`` (optimal, when the instance asks) as API.md says.

    Returns
    -------
    int
        0 on success; 2 for an unreadable or invalid instance (nothing on stdout, one line
        ``placement solve: <message>`` on stderr, no traceback).
    """
    try:
        if path == "-":
            raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
        else:
            with open(path, "rb") as fh:
                raw = fh.read()
    except OSError as exc:
        stderr.write(f"placement solve: cannot read {path}: {exc.strerror or exc}\n")
        return 2
    try:
        instance = parse_instance_json(raw)
    except InstanceError as exc:
        stderr.write(f"placement solve: {' '.join(str(exc).split())}\n")
        return 2
    if mode is not None:
        if mode not in MODES:
            stderr.write("placement solve: --mode: must be 'optimal' or 'stable'\n")
            return 2
        instance = replace(instance, mode=mode)
    write_result(result_to_json(solve(instance)), stdout)
    return 0


def write_result(document: bytes, stdout: TextIO) -> None:
    """Write the result document and a newline: as bytes when the stream has a buffer."""
    buffer = getattr(stdout, "buffer", None)
    if buffer is not None:
        stdout.flush()
        buffer.write(document)
        buffer.write(b"\n")
        buffer.flush()
    else:
        stdout.write(document.decode())
        stdout.write("\n")
