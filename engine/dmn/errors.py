"""The one error a decision evaluation raises."""

from __future__ import annotations


class DecisionError(Exception):
    """A decision could not be evaluated.

    `unsupported` tells a construct this engine cannot evaluate (an expression outside the FEEL
    subset, a boxed expression kind not implemented) from a failure the model itself causes
    (two rules hitting a UNIQUE table, a required decision that is not in the model).
    """

    def __init__(self, message: str, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.unsupported = unsupported
