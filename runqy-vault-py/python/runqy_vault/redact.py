"""Redaction of vault values in a task process's output.

A worker starts a task with its vault entries in the environment and their
names in ``RUNQY_VAULT_KEYS`` (see :func:`runqy_vault.inject`). In the task,
one call::

    import runqy_vault.redact
    runqy_vault.redact.install()

wraps ``sys.stdout`` and ``sys.stderr`` and puts a :class:`RedactingFilter` on
the root logger's handlers, so the value of every variable named in
``RUNQY_VAULT_KEYS`` is replaced by its mask (:func:`runqy_vault.mask`).

What is matched is decided by the core's redactor, :class:`runqy_vault.Redactor`
(SPEC §11): the value base64-encoded (also inside a longer base64 text),
URL-encoded, JSON-escaped or ``repr``-escaped too, a multi-line value line by
line, and a value that one write begins and the next finishes. This module
only puts it between the task and its output.

Values (and lines of multi-line values) shorter than :data:`MIN_LENGTH`
characters are not redacted: replacing every ``"yes"`` or ``"1234"`` in the
output would mangle ordinary text. :func:`install` warns once, with a
``RuntimeWarning`` that names (never shows) them.

This is a safety net for accidents, not a boundary: a task can always write
to ``sys.stdout.buffer``, a file descriptor, or transform a value in a way not
listed here.
"""

from __future__ import annotations

import atexit
import codecs
import copy
import logging
import sys
import threading
import warnings
from collections.abc import Iterable, Mapping
from typing import IO, Any

from ._runqy_vault import Redactor

__all__ = [
    "MIN_LENGTH",
    "RedactingFilter",
    "RedactingStream",
    "Redactor",
    "install",
    "uninstall",
]

#: Values shorter than this many characters are left alone (the core's rule).
MIN_LENGTH = Redactor.MIN_LENGTH

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_skipped(redactor: Redactor) -> None:
    """Warns, once per name in this process, of the values left alone."""
    with _warned_lock:
        new = [n for n in redactor.skipped if n not in _warned]
        _warned.update(new)
    if new:
        warnings.warn(
            f"runqy_vault.redact: vault values (or lines of them) shorter than {MIN_LENGTH} "
            f"characters are not redacted (it would mangle ordinary text): {', '.join(new)}",
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

    Text goes to the core's streaming redactor as UTF-8 (lone surrogates
    passed through as they are), and what it gives back is decoded and
    written. The end of a write that could begin a secret is held back until
    the next write (or `release`, or interpreter exit) shows what follows, so
    ``write("sk-pro"); write("j-abc123")`` prints the mask, not the halves; a
    line is written as soon as its newline is. Other attributes
    (``encoding``, ``fileno``, ``isatty``...) are the wrapped stream's.
    """

    def __init__(self, stream: IO[str], redactor: Redactor | None = None) -> None:
        self._stream = stream
        # A stream of its own: the redactor's feed/finish keep state.
        self._redactor = copy.copy(redactor) if redactor is not None else Redactor.from_environ()
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogatepass")
        self._lock = threading.RLock()

    @property
    def wrapped(self) -> IO[str]:
        """The stream being written to."""
        return self._stream

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            ready = self._decoder.decode(self._redactor.feed(text.encode("utf-8", "surrogatepass")))
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
            ready = self._decoder.decode(self._redactor.finish(), final=True)
            self._decoder.reset()
            if ready:
                self._stream.write(ready)
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
    to ``sys.stderr`` or ``sys.stdout`` go through the wrapped streams. Warns
    once naming the values too short to redact.
    """
    with _install_lock:
        if "redactor" in _installed:
            redactor: Redactor = _installed["redactor"]
            return redactor
        redactor = Redactor.from_environ(environ)
        _warn_skipped(redactor)
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
