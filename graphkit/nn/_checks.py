r"""Argument checks shared by the layers and models, with uniform error messages."""

from typing import Any, Sequence


def check_choice(owner: str, key: str, value: Any, choices: Sequence[Any]) -> None:
    r"""Raises a :class:`ValueError` naming :obj:`owner`, the argument :obj:`key` and the valid
    :obj:`choices` if :obj:`value` is not one of them."""
    if value not in choices:
        raise ValueError(f"'{owner}' got an unknown '{key}' '{value}' (expected one of {', '.join(map(str, choices))})")


def check_probabilities(owner: str, **probabilities: float) -> None:
    r"""Raises a :class:`ValueError` naming :obj:`owner` and the argument if a dropout probability
    is not in :math:`[0, 1)`."""
    for key, p in probabilities.items():
        if not 0.0 <= p < 1.0:
            raise ValueError(f"'{owner}' expects '{key}' in [0, 1) (got {p})")
