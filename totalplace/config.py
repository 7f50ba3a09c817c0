"""Settings: where the workspace, the data mirror, the reference data and the workshop DB live.

Every setting can come from the environment so the CLI, the dashboard and the tests agree:
``TOTALPLACE_WORKSPACE``, ``TOTALPLACE_MIRROR``, ``TOTALPLACE_DB_URL``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent
#: Small reference data authored for the project (places, code lists, themes, catalogue).
REFERENCE_DIR = PROJECT_ROOT / "data"


def default_mirror() -> Path | None:
    """``$TOTALPLACE_MIRROR``, else ``../shared/data`` beside the project root when it exists."""
    env = os.environ.get("TOTALPLACE_MIRROR")
    if env:
        return Path(env).expanduser().resolve()
    candidate = (PROJECT_ROOT.parent / "shared" / "data").resolve()
    return candidate if candidate.is_dir() else None


def default_workspace() -> Path:
    """``$TOTALPLACE_WORKSPACE``, else ``workspace/`` inside the project root."""
    env = os.environ.get("TOTALPLACE_WORKSPACE")
    return Path(env).expanduser().resolve() if env else PROJECT_ROOT / "workspace"


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one run."""

    workspace: Path = field(default_factory=default_workspace)
    mirror: Path | None = field(default_factory=default_mirror)

    @property
    def store_path(self) -> Path:
        """The embedded analytic store (DuckDB file) holding the ledger and reference tables."""
        return self.workspace / "totalplace.duckdb"

    @property
    def db_url(self) -> str:
        """Workshop state database: SQLite in the workspace unless ``TOTALPLACE_DB_URL`` is set."""
        return os.environ.get("TOTALPLACE_DB_URL") or f"sqlite:///{self.workspace / 'workshop.db'}"

    def require_mirror(self) -> Path:
        """The mirror folder, or a clear error saying how to provide one."""
        from totalplace.errors import MirrorMissingError

        if self.mirror is None or not self.mirror.is_dir():
            raise MirrorMissingError(
                "no data mirror: set TOTALPLACE_MIRROR to a folder of the public source files "
                "(or run `totalplace sources fetch` on a connected machine)"
            )
        return self.mirror
