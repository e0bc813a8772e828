"""runqy-vault: the secret vault of the runqy job queue.

Named vaults of key/value secrets, encrypted with AES-256-GCM under one
master key in a SQLite file; the registration payload a server hands a
worker; and, on the worker, injection into the environment and redaction of
the injected values in output (:mod:`runqy_vault.redact`).
"""

from ._runqy_vault import (
    AuditBrokenError,
    DecryptionError,
    EntryNotFoundError,
    InvalidInputError,
    InvalidMasterKeyError,
    InvalidNameError,
    InvalidValueError,
    KeyMismatchError,
    Redactor,
    Store,
    VaultError,
    VaultExistsError,
    VaultNotFoundError,
    VaultsDisabledError,
    VersionConflictError,
    VersionNotFoundError,
    __version__,
    child_env,
    generate_key,
    inject,
    mask,
)

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
