"""Settings of a ``files`` account: the ``[accounts.settings]`` table of the workspace file."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class FilesSettings(BaseModel):
    """Where the export files are and where pushed lists go.

    Paths and glob patterns are relative to the folder of the workspace file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: glob patterns of touch exports (.csv, .jsonl, optionally .gz)
    touches: list[str] = Field(default_factory=list)
    #: glob patterns of engagement exports
    engagements: list[str] = Field(default_factory=list)
    #: glob patterns of contact exports
    contacts: list[str] = Field(default_factory=list)
    #: folder the pushed lists are written to; default ``out/<account name>``
    out_dir: str | None = None
    #: rows per pulled batch (one batch is one ledger transaction)
    batch_size: int = Field(default=50_000, ge=1)

    @field_validator("touches", "engagements", "contacts", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        # `touches = "data/*.csv"` reads naturally in TOML; accept it as a one-item list.
        return [v] if isinstance(v, str) else v

    @field_validator("touches", "engagements", "contacts")
    @classmethod
    def _no_empty_pattern(cls, v: list[str]) -> list[str]:
        if any(not p.strip() for p in v):
            msg = "expected glob patterns such as 'exports/touches-*.csv', got an empty string"
            raise ValueError(msg)
        return v

    @field_validator("out_dir")
    @classmethod
    def _no_empty_dir(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            msg = "expected a folder such as 'out/acme', got an empty string"
            raise ValueError(msg)
        return v
