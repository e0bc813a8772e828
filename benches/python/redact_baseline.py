# Frozen baseline: runqy-vault-py/python/runqy_vault/redact.py as it was before the core redactor,
# kept for benches/python/bench_redact.py speed comparisons. It must not change.
"""Redaction of vault values in a task process's output.

A worker starts a task with its vault entries in the environment and their
names in ``RUNQY_VAULT_KEYS`` (see :func:`runqy_vault.inject`). In the task,
one call::

    import runqy_vault.redact
    runqy_vault.redact.install()

wraps ``sys.stdout`` and ``sys.stderr`` and puts a :class:`RedactingFilter` on
the root logger's handlers, so the value of every variable named in
``RUNQY_VAULT_KEYS`` is replaced by its mask (:func:`runqy_vault.mask`),
including when it appears base64-encoded, URL-encoded, JSON-escaped, or line
by line for a multi-line value, and when one write ends in the middle of a
value and the next write finishes it.

Values shorter than :data:`MIN_LENGTH` characters are not redacted: replacing
every ``"yes"`` or ``"1234"`` in the output would mangle ordinary text. A
``RuntimeWarning`` names (never shows) them, once.

This is a safety net for accidents, not a boundary: a task can always write
to ``sys.stdout.buffer``, a file descriptor, or transform a value in a way not
listed here.
"""

from __future__ import annotations

import atexit
import base64
import json
import logging
import os
import re
import sys
import threading
import urllib.parse
import warnings
from collections.abc import Iterable, Mapping
from typing import IO, Any

from runqy_vault import mask

__all__ = [
    "MIN_LENGTH",
    "RedactingFilter",
    "RedactingStream",
    "Redactor",
    "install",
    "uninstall",
]

#: Values shorter than this many characters are left alone.
MIN_LENGTH = 6

_ENV_KEYS = "RUNQY_VAULT_KEYS"
_warned: set[str] = set()
_warned_lock = threading.Lock()


def _forms(value: str) -> set[str]:
    """The ways `value` commonly appears in output, the raw text included."""
    raw = value.encode("utf-8")
    forms = {
        value,
        base64.b64encode(raw).decode("ascii"),
        base64.urlsafe_b64encode(raw).decode("ascii"),
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote(value),
        urllib.parse.quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
    }
    forms |= {f.rstrip("=") for f in forms}
    return forms


class Redactor:
    """Replaces secret values, in the forms listed in the module docstring, by their masks.

    ``secrets`` maps a name (used only in the short-value warning) to its value.
    """

    def __init__(self, secrets: Mapping[str, str]) -> None:
        replacements: dict[str, str] = {}
        short = []
        for name, value in sorted(secrets.items()):
            if len(value) < MIN_LENGTH:
                if value:
                    short.append(name)
                continue
            shown = mask(value)
            for form in _forms(value):
                if len(form) >= MIN_LENGTH:
                    replacements.setdefault(form, shown)
            # A multi-line value (a PEM key) is often printed one line at a time.
            if "\n" in value:
                for line in value.splitlines():
                    line = line.strip()
                    if len(line) >= MIN_LENGTH:
                        for form in _forms(line):
                            if len(form) >= MIN_LENGTH:
                                replacements.setdefault(form, mask(line))
        _warn_short(short)
        self._replacements = replacements
        # Longest first, so a value wins over a line inside it.
        self._forms = sorted(replacements, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, self._forms))) if self._forms else None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        """The values of the variables named in ``RUNQY_VAULT_KEYS``."""
        env = os.environ if environ is None else environ
        names = [n for n in env.get(_ENV_KEYS, "").split(",") if n]
        return cls({n: env[n] for n in names if n in env})

    def __bool__(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        """`text` with every form of every secret replaced by the secret's mask."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda m: self._replacements[m.group(0)], text)

    def pending_prefix(self, text: str) -> int:
        """The length of the longest end of `text` that could begin a secret form.

        A stream holds that much back until the next write says what follows.
        """
        longest = 0
        for form in self._forms:
            start = max(len(text) - len(form) + 1, 0)
            pos = text.find(form[0], start)
            while pos != -1:
                tail = text[pos:]
                if len(tail) > longest and form.startswith(tail):
                    longest = len(tail)
                    break
                pos = text.find(form[0], pos + 1)
        return longest


def _warn_short(names: Iterable[str]) -> None:
    with _warned_lock:
        new = [n for n in names if n not in _warned]
        _warned.update(new)
    if new:
        warnings.warn(
            f"runqy_vault.redact: vault values shorter than {MIN_LENGTH} characters are not "
            f"redacted (it would mangle ordinary text): {', '.join(new)}",
            RuntimeWarning,
            stacklevel=3,
        )


class RedactingFilter(logging.Filter):
    """A `logging.Filter` that redacts a record's message, arguments and traceback text.

    Put it on a handler (``handler.addFilter(f)``) so that records from every
    logger are redacted; on a logger it sees only that logger's own records.
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor if redactor is not None else Redactor.from_environ()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.redactor:
            return True
        record.msg = self.redactor.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True


class RedactingStream:
    """A text stream wrapper that redacts what is written, also across writes.

    The end of a write that could be the beginning of a secret is held back
    until the next write (or `close`, or interpreter exit) shows what follows,
    so ``write("sk-pro"); write("j-abc123")`` prints the mask, not the halves.
    Other attributes (``encoding``, ``fileno``, ``isatty``...) are the wrapped
    stream's.
    """

    def __init__(self, stream: IO[str], redactor: Redactor | None = None) -> None:
        self._stream = stream
        self._redactor = redactor if redactor is not None else Redactor.from_environ()
        self._pending = ""
        self._lock = threading.RLock()

    @property
    def wrapped(self) -> IO[str]:
        """The stream being written to."""
        return self._stream

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            buffered = self._redactor.redact(self._pending + text)
            hold = self._redactor.pending_prefix(buffered)
            ready, self._pending = buffered[: len(buffered) - hold], buffered[len(buffered) - hold :]
            if ready:
                self._stream.write(ready)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        # What is held back stays held: flushing half a secret would leak it.
        self._stream.flush()

    def release(self) -> None:
        """Writes what is held back (redacted as far as it can be) and flushes."""
        with self._lock:
            pending, self._pending = self._pending, ""
            if pending:
                self._stream.write(self._redactor.redact(pending))
        self._stream.flush()

    def close(self) -> None:
        self.release()
        self._stream.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


_installed: dict[str, Any] = {}
_install_lock = threading.Lock()


def install(environ: Mapping[str, str] | None = None) -> Redactor:
    """Turns redaction on for this process; a second call does nothing more.

    Wraps ``sys.stdout`` and ``sys.stderr`` and adds a :class:`RedactingFilter`
    to every handler the root logger has now. Handlers made later that write
    to ``sys.stderr`` or ``sys.stdout`` go through the wrapped streams.
    """
    with _install_lock:
        if "redactor" in _installed:
            redactor: Redactor = _installed["redactor"]
            return redactor
        redactor = Redactor.from_environ(environ)
        filt = RedactingFilter(redactor)
        handlers = list(logging.getLogger().handlers)
        for h in handlers:
            h.addFilter(filt)
        stdout = RedactingStream(sys.stdout, redactor)
        stderr = RedactingStream(sys.stderr, redactor)
        _installed.update(
            redactor=redactor, filter=filt, handlers=handlers, stdout=stdout, stderr=stderr
        )
        sys.stdout, sys.stderr = stdout, stderr
        atexit.register(_release_all)
        return redactor


def uninstall() -> None:
    """Undoes `install` (for tests and for tools that install around one task)."""
    with _install_lock:
        if "redactor" not in _installed:
            return
        _release_all()
        for h in _installed["handlers"]:
            h.removeFilter(_installed["filter"])
        stdout: RedactingStream = _installed["stdout"]
        stderr: RedactingStream = _installed["stderr"]
        # Only put back what is still ours: someone may have replaced it since.
        if sys.stdout is stdout:
            sys.stdout = stdout.wrapped
        if sys.stderr is stderr:
            sys.stderr = stderr.wrapped
        atexit.unregister(_release_all)
        _installed.clear()


def _release_all() -> None:
    for name in ("stdout", "stderr"):
        stream = _installed.get(name)
        if stream is not None:
            try:
                stream.release()
            except (OSError, ValueError):
                pass  # the wrapped stream is already closed at exit
