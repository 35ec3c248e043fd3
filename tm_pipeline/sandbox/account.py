"""Account-level state: which API keys work, and the balance and quota that creation spends."""

from __future__ import annotations

import threading

from .config import SandboxConfig


class Account:
    """Keys (valid / deleted) and billing. Creation spends one unit of quota and of balance."""

    def __init__(self, config: SandboxConfig) -> None:
        self._lock = threading.Lock()
        self._keys: set[str] = set(config.api_keys)
        self._deleted: set[str] = set(config.deleted_api_keys)
        self.balance = config.balance
        self.quota = config.quota
        self.realtime_enabled = config.realtime_enabled

    def add_key(self, api_key: str) -> None:
        with self._lock:
            self._keys.add(api_key)
            self._deleted.discard(api_key)

    def delete_key(self, api_key: str) -> None:
        with self._lock:
            self._keys.discard(api_key)
            self._deleted.add(api_key)

    def key_code(self, api_key: str) -> int:
        """200 for a usable key, 4002 for a deleted one, 4001 for anything else (missing included)."""
        with self._lock:
            if api_key in self._keys:
                return 200
            return 4002 if api_key in self._deleted else 4001

    def set_billing(self, settings: dict[str, object]) -> dict[str, int | None]:
        """Replace `balance` and/or `quota` (None = unlimited), so a test can make creation answer
        4019 or 4021 mid-run; returns both as they now are. Unknown names are an error."""
        unknown = set(settings) - {"balance", "quota"}
        if unknown:
            raise ValueError(f"unknown account settings: {', '.join(sorted(unknown))}; known: balance, quota")
        values: dict[str, int | None] = {}
        for name, value in settings.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be a whole number >= 0 or null (unlimited), got {value!r}")
            values[name] = value
        with self._lock:
            if "balance" in values:
                self.balance = values["balance"]
            if "quota" in values:
                self.quota = values["quota"]
            return {"balance": self.balance, "quota": self.quota}

    def charge_creation(self) -> int:
        """Spend one creation; 4021 when the quota is used up, 4019 when the balance is."""
        with self._lock:
            if self.quota is not None and self.quota <= 0:
                return 4021
            if self.balance is not None and self.balance <= 0:
                return 4019
            if self.quota is not None:
                self.quota -= 1
            if self.balance is not None:
                self.balance -= 1
            return 200
