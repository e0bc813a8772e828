"""runqy_vault.redact: every encoding, across writes, logging, short values, install()."""

from __future__ import annotations

import base64
import io
import json
import logging
import subprocess
import sys
import textwrap
import urllib.parse
import warnings

import pytest

import runqy_vault
from runqy_vault.redact import RedactingFilter, RedactingStream, Redactor

SECRET = "sk-proj-abc123/xx+y=z&q"
MASK = runqy_vault.mask(SECRET)
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor({"API_KEY": SECRET, "TLS_KEY": PEM})


@pytest.mark.parametrize(
    "encoded",
    [
        SECRET,
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
        base64.b64encode(SECRET.encode()).decode().rstrip("="),
        urllib.parse.quote(SECRET, safe=""),
        urllib.parse.quote(SECRET),
        urllib.parse.quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
    ],
    ids=["raw", "base64", "base64-urlsafe", "base64-unpadded", "url", "url-keep-slash", "url-plus", "json"],
)
def test_each_encoding_of_a_value_becomes_its_mask(redactor: Redactor, encoded: str) -> None:
    text = f"calling api with <{encoded}> now"
    assert redactor.redact(text) == f"calling api with <{MASK}> now"


def test_json_escaped_value_with_quotes_and_newlines_is_masked() -> None:
    value = 'pa"ss\nword\\1'
    r = Redactor({"PW": value})
    doc = json.dumps({"password": value})
    assert r.redact(doc) == '{"password": "' + runqy_vault.mask(value) + '"}'


def test_multi_line_value_is_masked_whole_and_line_by_line(redactor: Redactor) -> None:
    assert PEM not in redactor.redact(f"key:\n{PEM}\n")
    assert redactor.redact(f"key:\n{PEM}\n") == f"key:\n{runqy_vault.mask(PEM)}\n"
    for line in PEM.splitlines():
        out = redactor.redact(f"> {line}")
        assert line not in out
        assert out == f"> {runqy_vault.mask(line)}"


def test_stream_masks_a_value_split_across_writes(redactor: Redactor) -> None:
    out = io.StringIO()
    stream = RedactingStream(out, redactor)
    for piece in ("token=sk-pro", "j-abc1", "23/xx+y=z&q", " done\n"):
        stream.write(piece)
    assert out.getvalue() == f"token={MASK} done\n"


def test_stream_holds_back_only_a_possible_prefix_and_releases_it(redactor: Redactor) -> None:
    out = io.StringIO()
    stream = RedactingStream(out, redactor)
    stream.write("ordinary text ending in sk-p")
    stream.flush()
    assert out.getvalue() == "ordinary text ending in "
    stream.write("ython is not a secret\n")
    assert out.getvalue() == "ordinary text ending in sk-python is not a secret\n"
    stream.write("tail sk")
    stream.release()
    assert out.getvalue().endswith("tail sk")


def test_stream_delegates_other_attributes(redactor: Redactor) -> None:
    out = io.StringIO()
    stream = RedactingStream(out, redactor)
    assert stream.wrapped is out
    assert stream.getvalue() == ""  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="must be str, not bytes"):
        stream.write(b"bytes")  # type: ignore[arg-type]


def test_short_values_are_not_redacted_and_warned_about_once() -> None:
    with pytest.warns(RuntimeWarning, match="shorter than 6 characters.*SHORT_ONE") as record:
        r = Redactor({"SHORT_ONE": "abc12", "LONG_ONE": "long-value-1"})
    assert len(record) == 1
    assert "abc12" not in str(record[0].message)
    assert r.redact("abc12 long-value-1") == "abc12 lo****-1"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Redactor({"SHORT_ONE": "abc12"})  # same name again: no second warning


def test_from_environ_reads_the_names_in_runqy_vault_keys() -> None:
    env = runqy_vault.child_env({"vaults": {"API_KEY": SECRET, "OTHER": "other-value"}}, {"UNLISTED": "unlisted-v"})
    r = Redactor.from_environ(env)
    assert r.redact(f"{SECRET} other-value unlisted-v") == f"{MASK} ot****ue unlisted-v"


def test_logging_filter_masks_message_args_and_traceback(redactor: Redactor) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter(redactor))
    logger = logging.getLogger("runqy_vault.tests.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("key is %s", SECRET)
        try:
            raise RuntimeError(f"bad token {base64.b64encode(SECRET.encode()).decode()}")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert f"key is {MASK}\n" in text
    assert "request failed" in text and f"RuntimeError: bad token {MASK}" in text
    assert SECRET not in text and base64.b64encode(SECRET.encode()).decode() not in text


def test_install_masks_print_logging_and_stderr_in_a_task_process() -> None:
    env = runqy_vault.child_env({"vaults": {"API_KEY": SECRET}})
    script = textwrap.dedent(
        """
        import base64, logging, os, sys
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
        import runqy_vault.redact
        runqy_vault.redact.install()
        key = os.environ["API_KEY"]
        print("printed", key)
        sys.stdout.write("split " + key[:5]); sys.stdout.write(key[5:] + "\\n")
        logging.info("logged %s", key)
        sys.stderr.write("b64 " + base64.b64encode(key.encode()).decode() + "\\n")
        print("unfinished", key[:4], end="")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert SECRET not in out.stdout + out.stderr
    assert out.stdout == f"printed {MASK}\nsplit {MASK}\nunfinished {SECRET[:4]}"
    assert f"INFO logged {MASK}\n" in out.stderr
    assert f"b64 {MASK}\n" in out.stderr


def test_install_is_idempotent_and_uninstall_restores_streams() -> None:
    from runqy_vault import redact

    before = sys.stdout, sys.stderr
    try:
        first = redact.install({"RUNQY_VAULT_KEYS": ""})
        assert redact.install() is first
        assert isinstance(sys.stdout, RedactingStream)
    finally:
        redact.uninstall()
    assert (sys.stdout, sys.stderr) == before
