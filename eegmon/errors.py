"""The one error type for bad input: the CLI turns it into exit code 2 and one line."""

from __future__ import annotations

from os import PathLike


class EegmonError(Exception):
    """Bad input or usage that the user can fix.

    Parameters
    ----------
    message : str
        What is wrong, saying what was expected and what came.
    path : str | PathLike | None
        The file or directory the problem is in, if any; it leads the one-line message.
    """

    def __init__(self, message: str, path: str | PathLike | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
