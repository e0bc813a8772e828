import os
from pathlib import Path
from collections.abc import Iterable, Mapping, MutableMapping
from types import TracebackType
from typing import Literal, TypedDict, final, type_check_only

from typing_extensions import NotRequired, Self

__all__ = [
    "DecryptionError",
    "EntryNotFoundError",
    "InvalidInputError",
    "InvalidMasterKeyError",
    "InvalidNameError",
    "InvalidValueError",
    "KeyMismatchError",
    "Store",
    "VaultError",
    "VaultExistsError",
    "VaultNotFoundError",
    "VaultsDisabledError",
    "__version__",
    "child_env",
    "generate_key",
    "inject",
    "mask",
]

__version__: str

@type_check_only
class VaultSummary(TypedDict):
    name: str
    description: str
    entry_count: int

@type_check_only
class EntryView(TypedDict):
    key: str
    value: str
    is_secret: bool
    created_at: str
    updated_at: str

@type_check_only
class VaultDetail(TypedDict):
    name: str
    description: str
    created_at: str
    updated_at: str
    entries: list[EntryView]

@type_check_only
class RegistrationPayload(TypedDict):
    vaults: NotRequired[dict[str, str]]
    git_token: NotRequired[str]
    warnings: NotRequired[list[str]]

_Path = str | os.PathLike[str]

class VaultError(Exception):
    """Base class of every runqy_vault error."""

    http_status: int

class VaultsDisabledError(VaultError): ...
class InvalidMasterKeyError(VaultError): ...
class KeyMismatchError(VaultError): ...
class VaultNotFoundError(VaultError, KeyError): ...
class EntryNotFoundError(VaultError, KeyError): ...
class VaultExistsError(VaultError): ...
class InvalidNameError(VaultError, ValueError): ...
class InvalidValueError(VaultError, ValueError): ...
class InvalidInputError(VaultError, ValueError): ...
class DecryptionError(VaultError): ...

@final
class Store:
    def __new__(cls, path: _Path, master_key: str | None = None) -> Self: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def format(self) -> Literal["legacy", "v2"]: ...
    @property
    def path(self) -> Path: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> bool: ...
    def create_vault(self, name: str, description: str = "") -> None: ...
    def delete_vault(self, name: str) -> None: ...
    def vault_exists(self, name: str) -> bool: ...
    def list_vaults(self) -> list[VaultSummary]: ...
    def show(self, name: str) -> VaultDetail: ...
    def entries(self, name: str) -> list[EntryView]: ...
    def set(self, vault: str, key: str, value: str, *, secret: bool = True) -> None: ...
    def get(self, vault: str, key: str) -> str: ...
    def unset(self, vault: str, key: str) -> None: ...
    def resolve(self, vaults: Iterable[str]) -> dict[str, str]: ...
    def registration_payload(
        self, vaults: Iterable[str], git_token: str | None = None
    ) -> RegistrationPayload: ...
    def rotate_key(self, new_key: str) -> int: ...
    def migrate(self) -> int: ...
    def export(self, path: _Path) -> None: ...
    def import_(self, path: _Path) -> int: ...

def generate_key() -> str: ...
def mask(value: str) -> str: ...
def inject(
    payload: Mapping[str, object] | str, environ: MutableMapping[str, str] | None = None
) -> list[str]: ...
def child_env(
    payload: Mapping[str, object] | str, base: Mapping[str, str] | None = None
) -> dict[str, str]: ...
