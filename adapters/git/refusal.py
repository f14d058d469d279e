"""How the synchronous git helpers say no: they raise ``Refused`` and the adapter returns its error."""

from __future__ import annotations

from typing import NoReturn

from core.errors import DomainError, GitError, InvalidInput


class Refused(Exception):
    """An expected failure carrying the DomainError the adapter hands back in ``Failure``."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.detail)
        self.error = error


def refuse(detail: str, *, field: str | None = None, paths: tuple[str, ...] = ()) -> NoReturn:
    raise Refused(GitError(detail=detail, field=field, paths=paths))


def refuse_input(detail: str, *, field: str) -> NoReturn:
    raise Refused(InvalidInput(detail=detail, field=field))
