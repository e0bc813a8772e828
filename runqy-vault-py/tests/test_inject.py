"""Worker side: inject into a mapping or os.environ, child_env for subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import runqy_vault

PAYLOAD = {"vaults": {"API_KEY": "sk-proj-abc123xx", "DB_URL": "postgres://u:p@h/db"}, "git_token": "ghp_x"}


def test_inject_into_a_dict_overrides_and_lists_names() -> None:
    env = {"API_KEY": "inherited", "KEEP": "kept"}
    names = runqy_vault.inject(PAYLOAD, env)
    assert names == ["API_KEY", "DB_URL"]
    assert env == {
        "API_KEY": "sk-proj-abc123xx",
        "DB_URL": "postgres://u:p@h/db",
        "KEEP": "kept",
        "RUNQY_VAULT_KEYS": "API_KEY,DB_URL",
    }


def test_inject_defaults_to_os_environ_and_reaches_the_process_environment(environ_guard: None) -> None:
    os.environ["API_KEY"] = "inherited"
    assert runqy_vault.inject(PAYLOAD) == ["API_KEY", "DB_URL"]
    assert os.environ["API_KEY"] == "sk-proj-abc123xx"
    assert os.environ["RUNQY_VAULT_KEYS"] == "API_KEY,DB_URL"
    # os.environ writes through to the real environment that children inherit.
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ['API_KEY'])"], capture_output=True, text=True, check=True
    )
    assert out.stdout == "sk-proj-abc123xx\n"


def test_inject_accepts_the_payload_as_json_text() -> None:
    env: dict[str, str] = {}
    assert runqy_vault.inject(json.dumps(PAYLOAD), env) == ["API_KEY", "DB_URL"]
    assert env["DB_URL"] == "postgres://u:p@h/db"


def test_empty_payload_injects_nothing_but_the_empty_name_list() -> None:
    env: dict[str, str] = {}
    assert runqy_vault.inject({}, env) == []
    assert env == {"RUNQY_VAULT_KEYS": ""}


@pytest.mark.parametrize(
    ("vaults", "error", "named"),
    [
        ({"OK_KEY": "fine", "LD_PRELOAD": "/evil.so"}, runqy_vault.InvalidNameError, "LD_PRELOAD"),
        ({"OK_KEY": "fine", "PATH": "/evil"}, runqy_vault.InvalidNameError, "PATH"),
        ({"OK_KEY": "fine", "DYLD_INSERT_LIBRARIES": "x"}, runqy_vault.InvalidNameError, "DYLD_INSERT_LIBRARIES"),
        ({"OK_KEY": "fine", "RUNQY_VAULT_KEYS": "x"}, runqy_vault.InvalidNameError, "RUNQY_VAULT_KEYS"),
        ({"OK_KEY": "fine", "bad-name": "x"}, runqy_vault.InvalidNameError, "bad-name"),
        ({"OK_KEY": "fine", "NUL_VALUE": "a\x00b"}, runqy_vault.InvalidValueError, "NUL_VALUE"),
    ],
)
def test_refused_entries_apply_nothing(vaults: dict[str, str], error: type, named: str) -> None:
    env = {"OK_KEY": "before"}
    with pytest.raises(error, match=named):
        runqy_vault.inject({"vaults": vaults}, env)
    assert env == {"OK_KEY": "before"}
    with pytest.raises(error):
        runqy_vault.child_env({"vaults": vaults}, env)


def test_child_env_copies_base_and_leaves_it_unchanged() -> None:
    base = {"PATH": "/usr/bin", "API_KEY": "inherited"}
    env = runqy_vault.child_env(PAYLOAD, base)
    assert env == {
        "PATH": "/usr/bin",
        "API_KEY": "sk-proj-abc123xx",
        "DB_URL": "postgres://u:p@h/db",
        "RUNQY_VAULT_KEYS": "API_KEY,DB_URL",
    }
    assert base == {"PATH": "/usr/bin", "API_KEY": "inherited"}


def test_child_env_runs_a_subprocess_with_the_vault_values(environ_guard: None) -> None:
    os.environ["API_KEY"] = "inherited"
    env = runqy_vault.child_env(PAYLOAD)
    assert env["PATH"] == os.environ["PATH"]
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ['API_KEY'], os.environ['RUNQY_VAULT_KEYS'])"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "sk-proj-abc123xx API_KEY,DB_URL\n"
    assert os.environ["API_KEY"] == "inherited"


def test_payload_from_registration_payload_round_trips_into_child_env(store: runqy_vault.Store) -> None:
    store.create_vault("a")
    store.set("a", "TOKEN", "tok-value-1")
    env = runqy_vault.child_env(store.registration_payload(["a"]), {})
    assert env == {"TOKEN": "tok-value-1", "RUNQY_VAULT_KEYS": "TOKEN"}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: runqy_vault.inject(["API_KEY"], {}), "payload must be a dict"),
        (lambda: runqy_vault.inject({"vaults": ["x"]}, {}), r"payload\['vaults'\] must be a dict"),
        (lambda: runqy_vault.inject({"vaults": {"K": 1}}, {}), r"payload\['vaults'\]\['K'\] must be a str, not int"),
        (lambda: runqy_vault.inject({"vaults": {2: "v"}}, {}), r"keys must be str, not int"),
        (lambda: runqy_vault.inject(PAYLOAD, ["not", "a", "mapping"]), "environ must be a mapping"),
        (lambda: runqy_vault.child_env(PAYLOAD, 3), "base must be a mapping"),
    ],
)
def test_wrong_payload_and_target_types_are_type_errors(call, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        call()


def test_malformed_json_payload_is_invalid_input_without_quoting_it() -> None:
    with pytest.raises(runqy_vault.InvalidInputError) as e:
        runqy_vault.inject('{"vaults": {"K": "sk-secret-value"', {})
    assert "sk-secret-value" not in str(e.value)


WORKER_ENV = {
    "HOME": "/home/worker",
    "RUNQY_VAULT_MASTER_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    "RUNQY_VAULT_MASTER_KEY_FILE": "/run/secrets/vault-key",
    "RUNQY_API_KEY": "worker-api-key-1",
    "RUNQY_VAULT_KEYS": "STALE",
}


def test_child_env_of_a_worker_holding_the_master_key_and_api_key_hides_both_from_the_task(
    store: runqy_vault.Store, environ_guard: None
) -> None:
    # Issue 12's new user: the worker process holds its own credentials in its environment.
    os.environ.update(WORKER_ENV)
    store.create_vault("a")
    store.set("a", "TOKEN", "tok-value-1")
    env = runqy_vault.child_env(store.registration_payload(["a"]))
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(sorted(k for k in os.environ if k.upper().startswith('RUNQY_')))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "['RUNQY_VAULT_KEYS']\n"
    assert env["RUNQY_VAULT_KEYS"] == "TOKEN"
    assert env["TOKEN"] == "tok-value-1"
    assert env["HOME"] == "/home/worker"
    assert not any(v in env.values() for v in (WORKER_ENV["RUNQY_VAULT_MASTER_KEY"], "worker-api-key-1"))


def test_child_env_keeps_only_the_runqy_names_in_keep_and_never_the_git_token() -> None:
    env = runqy_vault.child_env(PAYLOAD, WORKER_ENV, keep=["RUNQY_API_KEY"])
    assert env == {
        "API_KEY": "sk-proj-abc123xx",
        "DB_URL": "postgres://u:p@h/db",
        "HOME": "/home/worker",
        "RUNQY_API_KEY": "worker-api-key-1",
        "RUNQY_VAULT_KEYS": "API_KEY,DB_URL",
    }
    assert "ghp_x" not in env.values()
    assert runqy_vault.child_env(PAYLOAD, WORKER_ENV, ()) == runqy_vault.child_env(PAYLOAD, WORKER_ENV)


def test_child_env_refuses_a_lone_string_as_keep() -> None:
    with pytest.raises(TypeError):
        runqy_vault.child_env(PAYLOAD, WORKER_ENV, keep="RUNQY_API_KEY")  # type: ignore[arg-type]


def test_a_second_inject_removes_the_first_payloads_variables_so_none_is_left_unlisted() -> None:
    # Issue 17: the first payload's variables stayed, unlisted in RUNQY_VAULT_KEYS, so unmasked.
    env = {"KEEP": "kept"}
    runqy_vault.inject({"vaults": {"FIRST_SECRET": "first-secret-value", "SHARED": "one-value"}}, env)
    assert runqy_vault.inject({"vaults": {"SHARED": "two-value", "SECOND": "second-value"}}, env) == ["SECOND", "SHARED"]
    assert env == {"KEEP": "kept", "SHARED": "two-value", "SECOND": "second-value", "RUNQY_VAULT_KEYS": "SECOND,SHARED"}
    # Every vault value left in the environment is still masked by a redactor built from it.
    listed = env["RUNQY_VAULT_KEYS"].split(",")
    redactor = runqy_vault.Redactor({name: env[name] for name in listed})
    assert redactor.redact("two-value second-value") == "tw****ue se****ue"
    # A forged list never makes inject remove a variable a payload could not have set.
    env = {"PATH": "/usr/bin", "RUNQY_VAULT_KEYS": "PATH,LD_PRELOAD"}
    runqy_vault.inject({}, env)
    assert env == {"PATH": "/usr/bin", "RUNQY_VAULT_KEYS": ""}
