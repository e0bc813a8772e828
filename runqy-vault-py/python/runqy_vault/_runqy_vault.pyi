import os
from pathlib import Path
from collections.abc import Iterable, Mapping, MutableMapping
from types import TracebackType
from typing import ClassVar, Literal, TypedDict, final, type_check_only

from typing_extensions import NotRequired, Self

__all__ = [
    "DecryptionError",
    "EntryNotFoundError",
    "InvalidInputError",
    "InvalidMasterKeyError",
    "InvalidNameError",
    "InvalidValueError",
    "KeyMismatchError",
    "Redactor",
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

@final
class Redactor:
    """Replaces vault values in output by their masks (:func:`mask`).

    The one redactor of runqy-vault, in the Rust core (SPEC §11): every
    occurrence of a value becomes the value's mask, in these forms: the value;
    standard and URL-safe base64, padded and unpadded, at each of the three
    byte alignments (so a value is found inside a longer base64 text too);
    ``urllib.parse.quote`` and ``quote_plus``; ``json.dumps`` (ASCII-only and
    not); ``repr``. A multi-line value is matched line by line: each line of
    at least :attr:`MIN_LENGTH` characters becomes the value's mask, the
    newlines stay. Values and lines shorter than that are left alone and named
    by :attr:`skipped`.

    ``secrets`` is a mapping of name to value, or a registration payload: the
    dict :meth:`Store.registration_payload` returns (one with a ``vaults``
    mapping or a ``warnings`` member) or its JSON text; a payload's
    ``git_token`` is redacted too, under the name ``git_token``.

    The streaming half (:meth:`feed`, :meth:`finish`) keeps state: use one
    redactor per stream, made cheaply with ``copy.copy(redactor)`` (the
    matcher is shared). Large inputs are matched with the GIL released.
    """

    MIN_LENGTH: ClassVar[int]
    """Values and lines shorter than this many characters are left alone (6)."""

    def __new__(cls, secrets: Mapping[str, object] | str) -> Self: ...
    @staticmethod
    def from_environ(environ: Mapping[str, str] | None = None) -> Redactor:
        """The values of the variables named in ``RUNQY_VAULT_KEYS`` (comma-separated).

        ``environ`` is ``os.environ`` by default; named variables that are not
        set are left out.
        """
    def redact(self, text: str) -> str:
        """``text`` with every form of every value replaced by the value's mask."""
    def feed(self, data: bytes) -> bytes:
        """Redacts one write of a stream; returns what can be written out now.

        The output is byte for byte that of :meth:`redact` on all the input,
        however it is cut into writes. Bytes that may begin a form are held
        back (never past a newline) until a later write or :meth:`finish`
        decides them. Bytes that are not UTF-8 pass through unchanged.
        """
    def finish(self) -> bytes:
        """Ends the stream: returns the bytes held back, redacted.

        The redactor can then take a new stream.
        """
    @property
    def skipped(self) -> list[str]:
        """The names of the values left alone, or partly (a short line), sorted; never the values."""
    def __bool__(self) -> bool:
        """Whether there is anything to redact."""
    def __copy__(self) -> Redactor:
        """The same redactor, with a stream of its own."""
