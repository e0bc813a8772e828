import os
from collections.abc import Iterable, Mapping, MutableMapping
from types import TracebackType
from typing import ClassVar, Literal, TypedDict, final, type_check_only

from typing_extensions import NotRequired, Self

__all__ = [
    "AuditBrokenError",
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
    "VersionConflictError",
    "VersionNotFoundError",
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
class HistoryEntry(TypedDict):
    version: int | None
    value: str
    is_secret: bool
    created_at: str
    actor: str | None
    state: Literal["current", "replaced", "removed"]
    last_read: str | None

@type_check_only
class AuditRecord(TypedDict):
    seq: int
    time: str
    actor: str
    operation: str
    vault: str | None
    key: str | None
    version: int | None
    fingerprint: str | None
    detail: dict[str, object] | None

@type_check_only
class PurgeReport(TypedDict):
    versions: int
    entries: int
    vault_deleted: bool
    warnings: NotRequired[list[str]]

@type_check_only
class RegistrationPayload(TypedDict):
    vaults: NotRequired[dict[str, str]]
    git_token: NotRequired[str]
    warnings: NotRequired[list[str]]

@type_check_only
class VaultUsage(TypedDict):
    vault: str
    queues: list[str]
    git_token_of: list[str]

@type_check_only
class Usage(TypedDict):
    vaults: list[VaultUsage]
    missing: list[VaultUsage]
    problems: list[str]

@type_check_only
class Finding(TypedDict):
    severity: Literal["error", "warning", "note"]
    check: str
    queue: str | None
    vault: str | None
    key: str | None
    message: str

@type_check_only
class CheckReport(TypedDict):
    findings: list[Finding]
    errors: int
    warnings: int

_Path = str | os.PathLike[str]

class VaultError(Exception):
    """Base class of every runqy_vault error."""

    http_status: int

class VaultsDisabledError(VaultError):
    """No master key is configured: vaults are disabled (HTTP 503)."""

class InvalidMasterKeyError(VaultError):
    """The master key is not 32 bytes of standard base64 (HTTP 400)."""

class KeyMismatchError(VaultError):
    """The master key does not open this store (HTTP 500)."""

class VaultNotFoundError(VaultError, KeyError):
    """One or more vaults do not exist; all are named (HTTP 404)."""

class EntryNotFoundError(VaultError, KeyError):
    """The vault has no such key (HTTP 404)."""

class VaultExistsError(VaultError):
    """The vault already exists (HTTP 409)."""

class InvalidNameError(VaultError, ValueError):
    """A vault name or key breaks the naming rules or is reserved (HTTP 400)."""

class InvalidValueError(VaultError, ValueError):
    """A value cannot be stored: a NUL byte, or too long (HTTP 400)."""

class InvalidInputError(VaultError, ValueError):
    """Input that is wrong as a whole: an import document, a rotation, a payload (HTTP 400)."""

class DecryptionError(VaultError):
    """A stored value did not decrypt: wrong key, corruption, or a moved blob (HTTP 500)."""

class VersionNotFoundError(VaultError, KeyError):
    """The version asked for is not kept: 0, negative, never written or pruned (HTTP 404)."""

class VersionConflictError(VaultError):
    """A check-and-set found another current version, or a restore found the entry current (HTTP 409)."""

class AuditBrokenError(VaultError):
    """The audit log does not verify: a record edited, removed, inserted or moved (HTTP 500).

    The message names the first bad record: ``audit record S: ...``.
    """

@final
class Store:
    """A vault store: a SQLite file, or a PostgreSQL database given by its URL.

    ``master_key`` is the base64 text of a 32-byte key; ``None`` reads it from
    ``RUNQY_VAULT_MASTER_KEY`` (or ``_FILE``); with no key anywhere the store
    opens disabled. Safe to share between threads; the GIL is released while
    SQLite or crypto work runs.
    """

    def __new__(cls, path: _Path, master_key: str | None = None) -> Self: ...
    @property
    def enabled(self) -> bool:
        """Whether a master key is configured."""
    @property
    def format(self) -> Literal["legacy", "v2"]:
        """The format new values are written in; raises VaultsDisabledError when disabled."""
    @property
    def path(self) -> str:
        """The SQLite path, or the PostgreSQL URL with its password shown as ``***``."""
    def close(self) -> None:
        """Releases the store; later calls raise VaultError. Closing twice is fine."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> bool: ...
    def create_vault(self, name: str, description: str = "", *, actor: str | None = None) -> None:
        """Creates an empty vault; VaultExistsError if it exists.

        ``actor`` (on every call that reads or writes values) is who the audit
        log names: at most 256 characters; ``None`` is :attr:`actor`.
        """
    def delete_vault(self, name: str, *, actor: str | None = None) -> None:
        """Deletes a vault and all its entries, atomically."""
    def vault_exists(self, name: str) -> bool:
        """Whether a vault of that name exists."""
    def list_vaults(self) -> list[VaultSummary]:
        """Every vault with its description and entry count, sorted by name."""
    def show(self, name: str) -> VaultDetail:
        """A vault with its entries sorted by key, secret values masked."""
    def entries(self, name: str) -> list[EntryView]:
        """A vault's entries sorted by key, secret values masked."""
    def set(
        self,
        vault: str,
        key: str,
        value: str,
        *,
        secret: bool = True,
        cas: int | None = None,
        actor: str | None = None,
    ) -> None:
        """Sets an entry (insert or replace); ``secret=False`` lets listings show it.

        The value becomes the entry's next version. With ``cas`` it is written
        only if the entry's current version is ``cas`` (0: only if the entry
        does not exist); otherwise VersionConflictError names the current version.
        """
    def get(
        self, vault: str, key: str, *, version: int | None = None, actor: str | None = None
    ) -> str:
        """The decrypted value of an entry, or with ``version`` that kept version's.

        A version that is not kept (0, negative, never written, pruned) raises
        VersionNotFoundError, saying which versions are.
        """
    def history(self, vault: str, key: str) -> list[HistoryEntry]:
        """The entry's versions, newest first, values masked as ``show`` masks them.

        ``state`` is ``current``, ``replaced`` or ``removed``; ``version`` is
        ``None`` for a current value another program wrote straight into the
        upstream tables. Works for removed entries and deleted vaults too.
        ``actor`` is who wrote it, ``last_read`` when it was last handed out
        (from the audit log).
        """
    def rollback(self, vault: str, key: str, version: int, *, actor: str | None = None) -> int:
        """Makes ``version`` current again (value and flag), as a new version; returns it.

        The entry must exist: a removed one comes back with :meth:`restore`.
        """
    def restore(self, vault: str, key: str, *, actor: str | None = None) -> int:
        """Brings back a removed entry's last version as a new version; returns it.

        The vault must exist; an entry that is current raises VersionConflictError.
        """
    def purge(
        self, vault: str, key: str | None = None, *, actor: str | None = None
    ) -> PurgeReport:
        """Destroys an entry and every version of it, or with no ``key`` the vault
        (if it still exists), its entries and all their versions. Cannot be undone.
        """
    @property
    def history_limit(self) -> int:
        """How many versions of each key are kept, the current one included (default 10).

        Setting it (at least 1; 1 keeps only current values) prunes every key at once.
        """
    @history_limit.setter
    def history_limit(self, limit: int) -> None: ...
    def unset(self, vault: str, key: str, *, actor: str | None = None) -> None:
        """Removes an entry."""
    def resolve(self, vaults: Iterable[str], *, actor: str | None = None) -> dict[str, str]:
        """The listed vaults merged, later vaults overriding earlier ones."""
    def registration_payload(
        self, vaults: Iterable[str], git_token: str | None = None, *, actor: str | None = None
    ) -> RegistrationPayload:
        """The payload a server hands a worker (SPEC §7), plus ``warnings`` when any.

        ``git_token`` is a ``vault://VAULT/KEY`` reference; one that does not
        resolve leaves the token out with a warning instead of failing.
        """
    def rotate_key(self, new_key: str, *, actor: str | None = None) -> int:
        """Re-encrypts every entry under ``new_key`` in one transaction; returns how many."""
    def migrate(self, *, actor: str | None = None) -> int:
        """Rewrites a legacy (runqy server) store to v2; returns how many entries."""
    def export(self, path: _Path, *, actor: str | None = None) -> None:
        """Writes every vault with plaintext values to a new file (mode 0600)."""
    def import_(self, path: _Path, *, actor: str | None = None) -> int:
        """Imports an export file (vaults merged, keys replaced); returns how many entries."""
    @property
    def actor(self) -> str:
        """Who acts when a call is given no ``actor=``: ``$RUNQY_VAULT_ACTOR``, else ``user@host``."""
    def audit_log(
        self,
        *,
        vault: str | None = None,
        key: str | None = None,
        actor: str | None = None,
        operation: str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """The audit records matching every filter given, oldest first (the newest
        ``limit`` when given). Never a value: ``fingerprint`` is ``hmac-sha256:`` + hex.

        ``since`` is a date (``2024-01-15``) or RFC 3339. A payload's record lists
        the keys it delivered in ``detail["delivered"]``; ``vault``/``key`` match
        those too. A bad date, an unknown operation or ``limit=0`` raises
        InvalidInputError.
        """
    def audit_verify(self) -> int:
        """Checks every record of the audit log with the current key; returns how many.

        AuditBrokenError names the first bad record.
        """
    def audit_prune(self, before: str, *, actor: str | None = None) -> int:
        """Removes the records written before ``before`` (a date or RFC 3339), keeping
        the rest verifiable from an anchor record; returns how many went."""
    @property
    def audit_reads(self) -> bool:
        """Whether reads that hand out values (get, resolve, the payload, export) are
        recorded (on by default). Setting it is recorded too."""
    @audit_reads.setter
    def audit_reads(self, on: bool) -> None: ...
    @property
    def audit_problem(self) -> str | None:
        """What the checks at open found wrong with the audit log, ``None`` when nothing."""
    def usage(self, configs: _Path | Iterable[_Path] | None = None) -> Usage:
        """Which queues use each vault (SPEC §14).

        ``configs`` are runqy queue configurations: YAML files, or directories
        whose ``*.yaml``/``*.yml`` files holding ``queues:`` are read, as the
        runqy server reads them; ``None``: ``QUEUE_WORKERS_DIR`` when set. The
        server's ``queues`` table is read too when the database has one.
        ``vaults`` lists every vault with its queues (and the queues whose
        ``git_token`` points into it), ``missing`` the vaults queues name that
        do not exist, ``problems`` what could not be read. Needs no key.
        """
    def check(
        self, configs: _Path | Iterable[_Path] | None = None, max_age_days: int | None = None
    ) -> CheckReport:
        """Every problem that keeps workers from receiving their secrets (SPEC §14).

        Queues are read as :meth:`usage` reads them; entries not updated for
        more than ``max_age_days`` days (default 90) are reported. Every entry
        is decrypted once to prove it decrypts; no finding holds a value.
        Findings are data: a store with problems (a disabled one included)
        gives ``errors > 0``, not an exception.
        """

def generate_key() -> str:
    """A new random master key as standard base64 (as ``openssl rand -base64 32``)."""

def mask(value: str) -> str:
    """The masked form of a value, counted in characters: ``sk-proj-abc…xx`` → ``sk****xx``."""

def inject(
    payload: Mapping[str, object] | str, environ: MutableMapping[str, str] | None = None
) -> list[str]:
    """Sets a payload's vault entries and ``RUNQY_VAULT_KEYS`` in ``environ`` (``os.environ``).

    Returns the names injected. Reserved or ill-formed names and NUL bytes are
    refused before anything is set. A second injection removes the names the
    first listed in ``RUNQY_VAULT_KEYS`` that it does not set again, so every
    vault variable left in ``environ`` stays listed (and redacted).
    """

def child_env(
    payload: Mapping[str, object] | str,
    base: Mapping[str, str] | None = None,
    keep: Iterable[str] = (),
) -> dict[str, str]:
    """A new environment for a subprocess (SPEC §7).

    ``base`` (``os.environ`` by default) without the worker's own variables
    (every name starting with ``RUNQY_``: the master key, ``RUNQY_API_KEY``,
    ...), except those named in ``keep``; then the payload's vault entries on
    top and ``RUNQY_VAULT_KEYS`` set afresh. The payload's ``git_token`` is
    never put in it. ``base`` is not changed.
    """

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
