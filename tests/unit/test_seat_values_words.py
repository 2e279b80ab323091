"""The seat values page's plain words for what one more seat does."""

from __future__ import annotations

from placement.services.pages.seat_values import SeatMoveRow, SeatRow, choice


def _m(name: str, a: int | None, b: int | None, ra: int | None, rb: int | None) -> SeatMoveRow:
    return SeatMoveRow(1, name, a, b, None if a is None else "A", None if b is None else "B",
                       from_rank=ra, to_rank=rb)  # fmt: skip


def _row(placed: SeatMoveRow | None, moves: list[SeatMoveRow], gain: int = 1) -> SeatRow:
    return SeatRow(7, "Lab", "Host", 1, gain, 1.0, placed, moves)


def test_choices_in_words() -> None:
    assert [choice(r) for r in (1, 2, 3, 4, 11, 12, 13, 21, 22, None)] == [
        "their 1st choice", "their 2nd choice", "their 3rd choice", "their 4th choice",
        "their 11th choice", "their 12th choice", "their 13th choice", "their 21st choice",
        "their 22nd choice", "a slot they did not rank",
    ]  # fmt: skip


def test_summary_names_who_is_placed_and_counts_moves_up_and_down() -> None:
    priya = _m("Priya Shah", None, 7, None, 2)
    ups = [_m("A", 1, 2, 3, 1), _m("B", 2, 7, None, 4)]  # unranked to ranked: higher
    down = [_m("C", 3, 4, 1, 2)]
    assert _row(priya, [*ups, *down]).summary == (
        "places Priya Shah (their 2nd choice); 2 trainees move to a choice they ranked "
        "higher; 1 trainee moves to a choice they ranked lower"
    )
    assert _row(priya, []).summary == "places Priya Shah (their 2nd choice)"
    assert _row(None, [], gain=1).summary == "places one more trainee"


def test_summary_of_a_saving_with_a_swap() -> None:
    moves = [_m("A", 1, 7, 2, 1), _m("B", None, 1, None, 3), _m("C", 5, None, 1, None)]
    assert _row(None, moves, gain=0).summary == (
        "1 trainee moves to a choice they ranked higher; 1 trainee not placed now is "
        "placed; 1 trainee gives up a place"
    )
