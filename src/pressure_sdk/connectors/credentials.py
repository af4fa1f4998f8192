"""Credentials: a pydantic model whose fields are read from named environment variables.

A connector whose platform needs one secret (a token, an API key) keeps the default
:class:`ApiCredential`: the account's ``credential_env`` names the variable. A platform
that needs several (SFMC: client id, client secret, account id) declares a model::

    class SfmcCredentials(Credentials):
        client_id: SecretStr = env_field("CLIENT_ID", "the installed package's client id")
        client_secret: SecretStr = env_field("CLIENT_SECRET", "the installed package's client secret")
        account_id: str | None = env_field("ACCOUNT_ID", "the business unit's MID", required=False)

and an account with ``credential_env = "ACME_SFMC"`` reads ``ACME_SFMC_CLIENT_ID``,
``ACME_SFMC_CLIENT_SECRET`` and ``ACME_SFMC_ACCOUNT_ID``. A field with the suffix ``""``
reads the variable named in ``credential_env`` itself. Every ``SecretStr`` value is
registered for redaction as it is read, so it never shows in errors, logs or URLs;
reprs show ``**********``; validation errors name the variable, never its value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ..errors import AuthError
from ..http.redaction import register_secret


def env_field(suffix: str, description: str, *, required: bool = True) -> Any:
    """A credentials field read from ``<credential_env>_<suffix>`` (``suffix=""``: ``credential_env`` itself).

    ``description`` says what to export (used in the message when it is missing).
    """
    extra: dict[str, Any] = {"env_suffix": suffix}
    if required:
        return Field(description=description, json_schema_extra=extra)
    return Field(default=None, description=description, json_schema_extra=extra)


class Credentials(BaseModel):
    """Base of credentials models: frozen, unknown fields refused, each field from its variable."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    #: the field whose value a single-secret auth object takes (``HttpConnector.auth``)
    primary: ClassVar[str | None] = None

    @classmethod
    def variables(cls, prefix: str) -> dict[str, str]:
        """Field name → the environment variable it is read from, for an account's ``credential_env``."""
        out: dict[str, str] = {}
        for name, info in cls.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            suffix = extra.get("env_suffix", name.upper())
            out[name] = prefix if suffix == "" else f"{prefix}_{suffix}"
        return out

    @classmethod
    def from_env(
        cls,
        prefix: str,
        *,
        environ: Mapping[str, str] | None = None,
        account: str = "",
        hint: str = "",
        connector: str | None = None,
    ) -> Self:
        """Read every field from its variable. AuthError names each variable missing, never a value."""
        env = os.environ if environ is None else environ
        values: dict[str, str] = {}
        missing: list[tuple[str, str]] = []
        for name, var in cls.variables(prefix).items():
            value = env.get(var, "").strip()
            if value:
                values[name] = value
            elif cls.model_fields[name].is_required():
                missing.append((var, cls.model_fields[name].description or name))
        for name, value in values.items():
            if _is_secret(cls.model_fields[name].annotation):
                register_secret(value)
        who = f"account {account!r}: " if account else ""
        if len(missing) == 1:
            var, what = missing[0]
            msg = f"{who}environment variable {var} is not set; export it with {hint or what}"
            raise AuthError(msg, connector=connector)
        if missing:
            listed = ", ".join(f"{var} ({what})" for var, what in missing)
            msg = f"{who}environment variables {listed} are not set; export them"
            raise AuthError(msg, connector=connector)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            names = cls.variables(prefix)
            said = "; ".join(f"{names.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in exc.errors())
            msg = f"{who}invalid credential: {said}"
            raise AuthError(msg, connector=connector) from None

    def secret(self, name: str | None = None) -> str:
        """The plain value of a field (``primary`` by default): only for the auth object that sends it."""
        field = name or self.primary or next(iter(type(self).model_fields))
        value = getattr(self, field)
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


class ApiCredential(Credentials):
    """One secret, read from the variable the account names in ``credential_env`` (a token, an API key)."""

    primary: ClassVar[str | None] = "credential"
    credential: SecretStr = env_field("", "the API credential")


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return SecretStr in getattr(annotation, "__args__", ())


__all__ = ["ApiCredential", "Credentials", "env_field"]
