"""Which TrackingMore accounts the pipeline extracts: one by default, several from a TOML file.

Each account has its own key and so its own 1 request/second, pool, pacer state, lake prefix and
watermarks; the marts carry its name in an `account` column. Without `TM_ACCOUNTS_FILE` there is
one account named `default` whose key is `TRACKINGMORE_API_KEY` and whose lake is `<data_dir>/lake`,
so a deployment that never heard of accounts behaves and is laid out as before.

The file names variables, never keys, so it can be committed:

    [accounts.brand_a]
    key_var = "TM_KEY_BRAND_A"            # required: the environment variable holding the key
    base_url = "https://api.trackingmore.com/v2"   # optional, default TRACKINGMORE_BASE_URL; a /v4
                                          # address makes this account use the v4 list endpoint
    list_rate_per_s = 1.0                 # optional, default TRACKINGMORE_LIST_RATE_PER_S, else the
                                          # API version's own (v2 1/s, v4 10/s)
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tm_pipeline.api.errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before it joined the standard library
    import tomli as tomllib

DEFAULT_ACCOUNT = "default"
# Names become asset keys, op names, pool names and folder names: keep them to what all accept.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELDS = {"key_var", "base_url", "list_rate_per_s"}


@dataclass(frozen=True)
class Account:
    """One TrackingMore account: its name, the variable that holds its key, where and how fast to ask."""

    name: str
    key_var: str
    base_url: str
    list_rate_per_s: float | None  # None: the API version's default (v2 1/s, v4 10/s)

    @property
    def is_default(self) -> bool:
        """The default account keeps the single-account layout: `lake/`, asset keys without a prefix."""
        return self.name == DEFAULT_ACCOUNT

    @property
    def lake_prefix(self) -> str:
        """Where its lake lives under `<data_dir>/lake`: "" for the default account, else `account=<name>`."""
        return "" if self.is_default else f"account={self.name}"

    @property
    def resource_key(self) -> str:
        """The Dagster resource that holds its client settings."""
        return "trackingmore" if self.is_default else f"trackingmore_{self.name}"


def parse_accounts(text: str, source: str, default_base_url: str, default_rate_per_s: float | None) -> list[Account]:
    """The accounts of a TOML document, in file order, or a ConfigurationError naming `source`,
    the account and the field that is wrong."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{source} is not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"accounts"})
    if unknown:
        raise ConfigurationError(f"{source}: unknown top-level key(s) {unknown}; accounts go under [accounts.<name>]")
    tables = document.get("accounts")
    if not isinstance(tables, dict) or not tables:
        raise ConfigurationError(f"{source} names no account; add at least one [accounts.<name>] table with key_var")
    accounts = [_account(name, fields, source, default_base_url, default_rate_per_s) for name, fields in tables.items()]
    by_variable: dict[str, str] = {}
    for account in accounts:
        if account.key_var in by_variable:
            raise ConfigurationError(
                f"{source}: accounts {by_variable[account.key_var]!r} and {account.name!r} both use key_var "
                f"{account.key_var}; one key is one account (its 1 request/second cannot be shared)"
            )
        by_variable[account.key_var] = account.name
    return accounts


def _account(name: str, fields: Any, source: str, default_base_url: str, default_rate_per_s: float | None) -> Account:
    where = f"{source}, account {name!r}"
    if not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"{where}: the name must be 1-40 lowercase letters, digits or '_', starting with a letter"
        )
    if not isinstance(fields, dict):
        raise ConfigurationError(f"{where}: expected a table [accounts.{name}] with key_var")
    unknown = sorted(set(fields) - _FIELDS)
    if unknown:
        raise ConfigurationError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(_FIELDS)}")
    key_var = fields.get("key_var")
    if not isinstance(key_var, str) or not _VARIABLE.fullmatch(key_var):
        raise ConfigurationError(
            f"{where}: key_var must name the environment variable that holds the key (e.g. \"TM_KEY_{name.upper()}\")"
        )
    base_url = fields.get("base_url", default_base_url)
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"{where}: base_url must be an http(s) URL such as https://api.trackingmore.com/v2")
    rate = fields.get("list_rate_per_s", default_rate_per_s)
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0):
        raise ConfigurationError(f"{where}: list_rate_per_s must be a number of requests per second above 0")
    return Account(
        name=name, key_var=key_var, base_url=base_url.rstrip("/"),
        list_rate_per_s=float(rate) if rate is not None else None,
    )


def read_accounts_file(path: Path, default_base_url: str, default_rate_per_s: float | None) -> list[Account]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot read the accounts file {path}: {error.strerror}") from None
    return parse_accounts(text, str(path), default_base_url, default_rate_per_s)


def default_account(key_var: str, base_url: str, rate_per_s: float | None) -> Account:
    return Account(name=DEFAULT_ACCOUNT, key_var=key_var, base_url=base_url, list_rate_per_s=rate_per_s)
