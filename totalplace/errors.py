"""One exception tree. Messages are for people: they name the file and, where known, the line."""

from __future__ import annotations

from pathlib import Path


class TotalPlaceError(Exception):
    """Base of every error this package raises on purpose."""


class MirrorMissingError(TotalPlaceError):
    """The data mirror folder is not available."""


class SourceError(TotalPlaceError):
    """A catalogue source is missing, fails its checksum or cannot be downloaded."""


class UnknownPlaceError(TotalPlaceError):
    """A place name or code does not resolve to districts."""


class StoreError(TotalPlaceError):
    """The workspace store is missing, damaged or not built."""


class StoreBusyError(StoreError):
    """Another process holds the workspace store (an ingest, a build, the dashboard): retry
    when it has finished. Not damage: nothing needs rebuilding."""

    #: Exit status of the CLI: EX_TEMPFAIL (sysexits.h), "try again later".
    exit_code = 75


class InputFileError(TotalPlaceError):
    """A whole input file cannot be used (empty, binary, unknown layout, too large...)."""

    def __init__(self, path: Path | str, problem: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.problem = problem
        self.line = line
        where = f"{self.path.name} line {line:,}" if line is not None else self.path.name
        super().__init__(f"{where}: {problem}")
