"""An accounts file for tests of several accounts, and the environment that holds their keys."""

from __future__ import annotations

from pathlib import Path

from tm_pipeline import settings


def accounts_environment(path: Path, base_urls: dict[str, str], keys: dict[str, str]) -> dict[str, str]:
    """Write an accounts file at `path` naming each account with its base_url and a key variable
    `TM_TEST_KEY_<NAME>`; the variables a deployment would set: the file's and each key's."""
    path.write_text("".join(
        f'[accounts.{name}]\nkey_var = "TM_TEST_KEY_{name.upper()}"\nbase_url = "{base_url}"\n'
        for name, base_url in base_urls.items()
    ))
    return {
        settings.ACCOUNTS_FILE_VAR: str(path),
        **{f"TM_TEST_KEY_{name.upper()}": keys[name] for name in base_urls},
    }
