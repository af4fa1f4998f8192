"""Settings of a ``files`` account: the ``[accounts.settings]`` table of the workspace file."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


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
    #: glob patterns of opposition-list answers (Bloctel): the numbers to stop calling,
    #: each file's date in its name (``bloctel-2026-11-02.csv``)
    oppositions: list[str] = Field(default_factory=list)
    #: country (ISO 3166 alpha-2, e.g. ``FR``) of phone numbers written without a prefix
    phone_region: str | None = None
    #: folder the pushed lists are written to; default ``out/<account name>``
    out_dir: str | None = None
    #: rows per pulled batch (one batch is one ledger transaction)
    batch_size: int = Field(default=50_000, ge=1)
    #: what a bad row does to its file: ``"fail"`` imports nothing of the file (the run
    #: reports every bad row); ``"quarantine"`` writes the bad rows to a rejects file and
    #: imports the others
    rejects: Literal["fail", "quarantine"] = "fail"
    #: folder of the rejects files (``rejects = "quarantine"`` only); default ``rejects/<account name>``
    rejects_dir: str | None = None
    #: bad rows, and repeated event ids, that an error or warning lists before "and N more"
    bad_rows_reported: int = Field(default=20, ge=1)

    @field_validator("touches", "engagements", "contacts", "oppositions", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        # `touches = "data/*.csv"` reads naturally in TOML; accept it as a one-item list.
        return [v] if isinstance(v, str) else v

    @field_validator("touches", "engagements", "contacts", "oppositions")
    @classmethod
    def _no_empty_pattern(cls, v: list[str]) -> list[str]:
        if any(not p.strip() for p in v):
            msg = "expected glob patterns such as 'exports/touches-*.csv', got an empty string"
            raise ValueError(msg)
        return v

    @field_validator("out_dir", "rejects_dir")
    @classmethod
    def _no_empty_dir(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            msg = "expected a folder such as 'out/acme', got an empty string"
            raise ValueError(msg)
        return v

    @field_validator("rejects_dir")
    @classmethod
    def _rejects_dir_needs_quarantine(cls, v: str | None, info: ValidationInfo) -> str | None:
        # fields are validated in order: `rejects` is known here (absent if it was invalid)
        if v is not None and info.data.get("rejects") == "fail":
            msg = 'only used with rejects = "quarantine"; set it, or remove rejects_dir'
            raise ValueError(msg)
        return v
