/*
 * The C ABI on PostgreSQL: the main flow against a real server, and a URL's
 * password kept out of every error. scripts/test-c.sh creates a fresh
 * database per run and passes its URL in RUNQY_VAULT_TEST_POSTGRES_DB_URL
 * (when scripts/with-postgres.sh set RUNQY_VAULT_TEST_POSTGRES_URL); without
 * it the main flow is skipped and says so. The unreachable-server test needs
 * no server and always runs.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runqy_vault.h"

static const char *KEY_A = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
static const char *KEY_B = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
static const char *SECRET = "pw-secret";

static int checks;
static char *err;

#define CHECK(cond)                                                            \
  do {                                                                         \
    checks++;                                                                  \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: %s: check failed: %s (err: %s)\n", __FILE__,     \
              __LINE__, __func__, #cond, err ? err : "NULL");                  \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

/* Runs `call` (which writes &err) and checks it succeeded with no message. */
#define OK(call)                                                               \
  do {                                                                         \
    RunqyVaultResult rc_ = (call);                                             \
    CHECK(rc_ == RUNQY_VAULT_OK);                                              \
    CHECK(err == NULL);                                                        \
  } while (0)

static void test_unreachable_server_is_storage_error_naming_host_not_password(void) {
  RunqyVaultStore *store = NULL;
  RunqyVaultResult rc = runqy_vault_store_open("postgres://u:pw-secret@127.0.0.1:1/x", KEY_A, &store, &err);
  CHECK(rc == RUNQY_VAULT_STORAGE);
  CHECK(runqy_vault_http_status(rc) == 500);
  CHECK(store == NULL);
  CHECK(err != NULL);
  CHECK(strstr(err, "127.0.0.1:1") != NULL);
  CHECK(strstr(err, "'x'") != NULL);
  CHECK(strstr(err, SECRET) == NULL);
  runqy_vault_string_free(err);
  err = NULL;
}

static void test_main_flow_create_set_get_payload_rotate_then_old_key_mismatch(const char *url) {
  RunqyVaultStore *store = NULL;
  OK(runqy_vault_store_open(url, KEY_A, &store, &err));
  CHECK(store != NULL);
  bool enabled = false;
  OK(runqy_vault_store_enabled(store, &enabled, &err));
  CHECK(enabled);

  OK(runqy_vault_create(store, "api-keys", "keys for the model APIs", &err));
  OK(runqy_vault_create(store, "model-credentials", NULL, &err));
  RunqyVaultResult rc = runqy_vault_create(store, "api-keys", NULL, &err);
  CHECK(rc == RUNQY_VAULT_VAULT_EXISTS);
  runqy_vault_string_free(err);
  err = NULL;
  OK(runqy_vault_set(store, "api-keys", "API_KEY", "old", true, &err));
  OK(runqy_vault_set(store, "api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx", true, &err));
  OK(runqy_vault_set(store, "model-credentials", "API_KEY", "new", true, &err));
  OK(runqy_vault_set(store, "model-credentials", "GIT", "ghp_token", true, &err));

  char *value = NULL;
  OK(runqy_vault_get(store, "api-keys", "OPENAI_API_KEY", &value, &err));
  CHECK(strcmp(value, "sk-proj-abc123xx") == 0);
  runqy_vault_string_free(value);

  char *json = NULL;
  OK(runqy_vault_show_json(store, "api-keys", &json, &err));
  CHECK(strstr(json, "\"key\":\"OPENAI_API_KEY\",\"value\":\"sk****xx\",\"is_secret\":true") != NULL);
  CHECK(strstr(json, "sk-proj-abc123xx") == NULL);
  runqy_vault_string_free(json);

  /* The later vault wins API_KEY. */
  const char *both[] = {"api-keys", "model-credentials"};
  OK(runqy_vault_registration_payload(store, both, 2, "vault://model-credentials/GIT", &json, &err));
  CHECK(strcmp(json,
               "{\"git_token\":\"ghp_token\",\"vaults\":{\"API_KEY\":\"new\","
               "\"GIT\":\"ghp_token\",\"OPENAI_API_KEY\":\"sk-proj-abc123xx\"}}") == 0);
  runqy_vault_string_free(json);

  /* History: a second write is version 2; rollback makes version 1 current as 3. */
  OK(runqy_vault_set(store, "api-keys", "API_KEY", "newer", true, &err));
  int64_t version = 0;
  OK(runqy_vault_rollback(store, "api-keys", "API_KEY", 1, &version, &err));
  CHECK(version == 3);
  OK(runqy_vault_history_json(store, "api-keys", "API_KEY", &json, &err));
  CHECK(strstr(json, "{\"version\":3,\"value\":\"****\",\"is_secret\":true,") == json + 1);
  CHECK(strstr(json, "\"state\":\"current\"") != NULL);
  runqy_vault_string_free(json);

  OK(runqy_vault_rotate_key(store, KEY_B, &err));
  OK(runqy_vault_get(store, "api-keys", "API_KEY", &value, &err));
  CHECK(strcmp(value, "old") == 0);
  runqy_vault_string_free(value);
  /* Rotation covered the kept versions too. */
  OK(runqy_vault_get_version(store, "api-keys", "API_KEY", 2, &value, &err));
  CHECK(strcmp(value, "newer") == 0);
  runqy_vault_string_free(value);
  runqy_vault_store_free(store);

  RunqyVaultStore *old = NULL;
  rc = runqy_vault_store_open(url, KEY_A, &old, &err);
  CHECK(rc == RUNQY_VAULT_KEY_MISMATCH);
  CHECK(old == NULL);
  CHECK(err != NULL && strstr(err, "key id") != NULL);
  runqy_vault_string_free(err);
  err = NULL;

  store = NULL;
  OK(runqy_vault_store_open(url, KEY_B, &store, &err));
  OK(runqy_vault_get(store, "model-credentials", "GIT", &value, &err));
  CHECK(strcmp(value, "ghp_token") == 0);
  runqy_vault_string_free(value);
  runqy_vault_store_free(store);
}

int main(void) {
  unsetenv("RUNQY_VAULT_MASTER_KEY");
  unsetenv("RUNQY_VAULT_MASTER_KEY_FILE");
  unsetenv("RUNQY_VAULT_MASTER_KEY_PREVIOUS");

  test_unreachable_server_is_storage_error_naming_host_not_password();

  const char *url = getenv("RUNQY_VAULT_TEST_POSTGRES_DB_URL");
  if (url == NULL || url[0] == '\0') {
    printf("test_postgres: %d checks passed; PostgreSQL main flow skipped "
           "(RUNQY_VAULT_TEST_POSTGRES_URL unset: run under scripts/with-postgres.sh)\n",
           checks);
    return 0;
  }
  test_main_flow_create_set_get_payload_rotate_then_old_key_mismatch(url);
  printf("test_postgres: %d checks passed, PostgreSQL main flow included\n", checks);
  return 0;
}
