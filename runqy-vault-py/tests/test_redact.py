"""runqy_vault.Redactor and runqy_vault.redact: every form, streaming, logging, short values, install()."""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
import subprocess
import sys
import textwrap
import threading
import urllib.parse
import warnings
from collections.abc import Callable

import pytest

import runqy_vault
from runqy_vault import redact as redact_module
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
        base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
        urllib.parse.quote_plus(SECRET, safe="/"),
        json.dumps(SECRET, ensure_ascii=False)[1:-1],
        repr(SECRET)[1:-1],
    ],
    ids=[
        "raw",
        "base64",
        "base64-urlsafe",
        "base64-unpadded",
        "url",
        "url-keep-slash",
        "url-plus",
        "json",
        "base64-urlsafe-unpadded",
        "url-plus-keep-slash",
        "json-unicode",
        "repr",
    ],
)
def test_each_encoding_of_a_value_becomes_its_mask(redactor: Redactor, encoded: str) -> None:
    text = f"calling api with <{encoded}> now"
    assert redactor.redact(text) == f"calling api with <{MASK}> now"


WIDE = "pä\"ss wörd/+=\\'日🔑\t"


@pytest.mark.parametrize(
    "encode",
    [
        lambda v: v,
        lambda v: base64.b64encode(v.encode()).decode(),
        lambda v: base64.urlsafe_b64encode(v.encode()).decode().rstrip("="),
        lambda v: urllib.parse.quote(v, safe=""),
        lambda v: urllib.parse.quote_plus(v),
        lambda v: json.dumps(v)[1:-1],
        lambda v: json.dumps(v, ensure_ascii=False)[1:-1],
        lambda v: repr(v)[1:-1],
    ],
    ids=["raw", "base64", "base64-urlsafe-unpadded", "url", "url-plus", "json", "json-unicode", "repr"],
)
def test_each_form_of_a_non_ascii_value_with_quotes_becomes_its_mask(encode: Callable[[str], str]) -> None:
    r = Redactor({"WIDE": WIDE})
    form = encode(WIDE)
    assert form == WIDE or form != encode(WIDE.encode("ascii", "replace").decode())
    assert r.redact(f"<{form}>") == f"<{runqy_vault.mask(WIDE)}>"


def test_base64_of_a_value_inside_a_longer_base64_text_is_masked_at_every_alignment(redactor: Redactor) -> None:
    n = len(SECRET.encode())
    for prefix in (b"", b"u", b"us", b"user:", b"user:p", b"user:pw"):
        # A first byte after the value with its high bits set, so the character
        # it shares with the value cannot equal the value's final one.
        text = base64.b64encode(prefix + SECRET.encode() + b"\xffmore bytes").decode()
        # The characters the value's bytes alone decide.
        start, end = -(-8 * len(prefix) // 6), 8 * (len(prefix) + n) // 6
        assert redactor.redact(f"Basic {text}") == f"Basic {text[:start]}{MASK}{text[end:]}", prefix


def test_json_escaped_value_with_quotes_and_newlines_is_masked() -> None:
    value = 'pa"ss\nword\\1'
    r = Redactor({"PW": value})
    doc = json.dumps({"password": value})
    assert r.redact(doc) == '{"password": "' + runqy_vault.mask(value) + '"}'


def test_multi_line_value_is_masked_line_by_line_with_the_values_mask(redactor: Redactor) -> None:
    # Each line becomes the whole value's mask, the newlines kept, so the
    # output does not depend on how the value was cut into lines or writes.
    shown = runqy_vault.mask(PEM)
    assert redactor.redact(f"key:\n{PEM}\n") == "key:\n" + f"{shown}\n" * 4
    for line in PEM.splitlines():
        out = redactor.redact(f"> {line}")
        assert line not in out
        assert out == f"> {shown}"
    # Its escaped forms hold no newline and are masked whole.
    assert redactor.redact(json.dumps(PEM)) == f'"{shown}"'
    assert redactor.redact(base64.b64encode(PEM.encode()).decode()) == shown


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


def test_short_values_are_not_redacted_and_named_in_skipped() -> None:
    r = Redactor({"SHORT_ONE": "abc12", "LONG_ONE": "long-value-1", "EMPTY": "", "LINES": "a-long-line\nab"})
    assert r.skipped == ["LINES", "SHORT_ONE"]
    assert r.redact("abc12 long-value-1") == "abc12 lo****-1"
    assert r.redact("a-long-line ab") == f"{runqy_vault.mask('a-long-line' + chr(10) + 'ab')} ab"
    assert "abc12" not in repr(r) and "long-value" not in repr(r)
    assert Redactor.MIN_LENGTH == redact_module.MIN_LENGTH == 6
    assert not Redactor({"SHORT_ONE": "abc12"}) and Redactor({"LONG_ONE": "long-value-1"})


def test_install_warns_once_naming_short_values_never_showing_them() -> None:
    env = {"RUNQY_VAULT_KEYS": "SHORT_TWO,LONG_TWO", "SHORT_TWO": "abc12", "LONG_TWO": "long-value-2"}
    try:
        with pytest.warns(RuntimeWarning, match="shorter than 6 characters.*SHORT_TWO") as record:
            redact_module.install(env)
        assert len(record) == 1
        assert "abc12" not in str(record[0].message)
    finally:
        redact_module.uninstall()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            redact_module.install(env)  # same name again: no second warning
    finally:
        redact_module.uninstall()


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


def test_the_redactor_of_runqy_vault_redact_is_the_cores() -> None:
    assert Redactor is runqy_vault.Redactor


STREAM_TEXT = (
    f"start {SECRET} b64={base64.b64encode(SECRET.encode()).decode()} é\n"
    f"{PEM}\nurl={urllib.parse.quote(SECRET)} sk-pro partial\n"
).encode() + b"\xff\xfe not utf-8 " + SECRET.encode() + b" end sk-proj"


def _streamed(r: Redactor, pieces: list[bytes]) -> bytes:
    return b"".join([r.feed(p) for p in pieces] + [r.finish()])


def test_feed_and_finish_give_the_same_bytes_split_at_every_position(redactor: Redactor) -> None:
    whole = _streamed(redactor, [STREAM_TEXT])
    assert SECRET.encode() not in whole and b"MIIEvQIBADANBgkq" not in whole
    assert whole.startswith(f"start {MASK} b64={MASK} é\n".encode())
    assert b"\xff\xfe not utf-8 " + MASK.encode() + b" end sk-proj" in whole
    for i in range(len(STREAM_TEXT) + 1):
        assert _streamed(redactor, [STREAM_TEXT[:i], STREAM_TEXT[i:]]) == whole, i
    one_by_one = [STREAM_TEXT[i : i + 1] for i in range(len(STREAM_TEXT))]
    assert _streamed(redactor, one_by_one) == whole


def test_feed_equals_redact_on_text(redactor: Redactor) -> None:
    text = STREAM_TEXT.split(b"\xff")[0].decode()
    assert _streamed(redactor, [text.encode()]) == redactor.redact(text).encode()


def test_feed_releases_a_line_when_its_newline_arrives_and_holds_only_a_possible_start(
    redactor: Redactor,
) -> None:
    assert redactor.feed(b"token sk-pr") == b"token "
    assert redactor.feed(b"oj\n") == b"sk-proj\n"
    assert redactor.feed(b"plain text\n") == b"plain text\n"
    assert redactor.feed(b"half " + SECRET[:10].encode()) == b"half "
    assert redactor.finish() == SECRET[:10].encode()
    assert redactor.finish() == b""


def test_feed_refuses_what_is_not_bytes(redactor: Redactor) -> None:
    with pytest.raises(TypeError, match="data must be bytes, not str"):
        redactor.feed("text")  # type: ignore[arg-type]


def test_a_copy_shares_the_matcher_but_has_a_stream_of_its_own(redactor: Redactor) -> None:
    other = copy.copy(redactor)
    assert redactor.feed(b"x sk-proj-") == b"x "
    # The copy's stream knows nothing of what the original holds back.
    assert other.feed(b"abc123/xx+y=z&q\n") == b"abc123/xx+y=z&q\n"
    assert other.redact(SECRET) == MASK
    assert redactor.feed(b"abc123/xx+y=z&q\n") == f"{MASK}\n".encode()


def test_stdout_and_stderr_streams_do_not_mix_what_they_hold_back(redactor: Redactor) -> None:
    out, err = io.StringIO(), io.StringIO()
    a, b = RedactingStream(out, redactor), RedactingStream(err, redactor)
    a.write("out sk-proj-")
    b.write("abc123/xx+y=z&q err\n")
    a.write("abc123/xx+y=z&q\n")
    assert err.getvalue() == "abc123/xx+y=z&q err\n"
    assert out.getvalue() == f"out {MASK}\n"


def test_stream_keeps_non_ascii_split_inside_a_character_and_lone_surrogates(redactor: Redactor) -> None:
    out = io.StringIO()
    stream = RedactingStream(out, redactor)
    for piece in ("héllo ", "日本", "\udcff ", SECRET[:3], SECRET[3:], " 🔑\n"):
        stream.write(piece)
    stream.release()
    assert out.getvalue() == f"héllo 日本\udcff {MASK} 🔑\n"
    assert redactor.redact(f"\udcff {SECRET}") == f"\udcff {MASK}"


def test_a_payload_dict_or_its_json_redacts_the_vaults_and_the_git_token() -> None:
    payload = {"vaults": {"API_KEY": SECRET}, "git_token": "ghp_0123456789", "warnings": ["w"]}
    text = f"{SECRET} https://x:ghp_0123456789@github.com"
    expected = f"{MASK} https://x:gh****89@github.com"
    assert Redactor(payload).redact(text) == expected
    assert Redactor(json.dumps(payload)).redact(text) == expected
    # A payload with no vaults (its git token failed to resolve) is still a payload.
    assert Redactor({"warnings": ["git token: not found"]}).redact(text) == text
    assert Redactor({"git_token": "ghp"}).skipped == ["git_token"]


def test_bad_secrets_are_refused_naming_what_is_wrong() -> None:
    with pytest.raises(TypeError, match="secrets must be a mapping of name to value.*not int"):
        Redactor(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"secrets\['A'\] must be a str, not int"):
        Redactor({"A": 1})
    with pytest.raises(TypeError, match=r"payload\['vaults'\]\['K'\] must be a str, not list"):
        Redactor({"vaults": {"K": ["x"]}})
    with pytest.raises(runqy_vault.InvalidInputError, match="not valid JSON"):
        Redactor("not json")


def test_from_environ_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNQY_VAULT_KEYS", "REDACT_TEST_KEY")
    monkeypatch.setenv("REDACT_TEST_KEY", SECRET)
    assert Redactor.from_environ().redact(SECRET) == MASK
    with pytest.raises(TypeError, match="environ must be a mapping"):
        Redactor.from_environ(["RUNQY_VAULT_KEYS"])  # type: ignore[arg-type]


def test_threads_redacting_large_texts_at_once_each_get_their_own_result(redactor: Redactor) -> None:
    texts = [(f"line {i} {SECRET}\n" * 5000) for i in range(8)]
    results: list[str] = [""] * len(texts)

    def work(i: int) -> None:
        results[i] = redactor.redact(texts[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [f"line {i} {MASK}\n" * 5000 for i in range(len(texts))]
