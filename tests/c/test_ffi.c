/*
 * The C ABI from C: every call, every result code that can be reached,
 * NULL and non-UTF-8 everywhere, freed handles, a caught panic, one
 * handle shared by many threads, the streaming redactor and child environments. Run plain, under valgrind and under ASan
 * by scripts/test-c.sh. Needs the library built with --features test-hooks.
 */
#define _POSIX_C_SOURCE 200809L
#define RUNQY_VAULT_TEST_HOOKS 1

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runqy_vault.h"

static const char *KEY_A = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
static const char *KEY_B = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

static char dir[256];
static int checks;

#define CHECK(cond)                                                            \
  do {                                                                         \
    checks++;                                                                  \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,    \
              __func__, #cond);                                                \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

static char *err;

static void expect(RunqyVaultResult rc, RunqyVaultResult want, const char *part,
                   const char *what, int line) {
  checks++;
  if (rc != want) {
    fprintf(stderr, "line %d: %s: got result %u, want %u (%s)\n", line, what,
            (unsigned)rc, (unsigned)want, err ? err : "no message");
    exit(1);
  }
  if (want == RUNQY_VAULT_OK) {
    if (err != NULL) {
      fprintf(stderr, "line %d: %s: err_out not NULL on success\n", line, what);
      exit(1);
    }
  } else {
    if (err == NULL || strstr(err, part) == NULL) {
      fprintf(stderr, "line %d: %s: message '%s' lacks '%s'\n", line, what,
              err ? err : "(NULL)", part);
      exit(1);
    }
  }
  runqy_vault_string_free(err);
  err = NULL;
}

/* Runs `call` (which writes &err) and checks its result and message. */
#define EXPECT(call, want, part) expect((call), (want), (part), #call, __LINE__)
#define OK(call) EXPECT(call, RUNQY_VAULT_OK, "")

static char *db_path(const char *name) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

static RunqyVaultStore *open_store(const char *name, const char *key) {
  RunqyVaultStore *store = NULL;
  OK(runqy_vault_store_open(db_path(name), key, &store, &err));
  CHECK(store != NULL);
  return store;
}

static void clear_key_env(void) {
  unsetenv("RUNQY_VAULT_MASTER_KEY");
  unsetenv("RUNQY_VAULT_MASTER_KEY_FILE");
  unsetenv("RUNQY_VAULT_MASTER_KEY_PREVIOUS");
  unsetenv("RUNQY_VAULT_MASTER_KEY_COMMAND");
  unsetenv("RUNQY_VAULT_MASTER_KEY_PREVIOUS_FILE");
}

static void test_full_flow_create_set_get_show_list_resolve_payload_unset_delete(void) {
  RunqyVaultStore *store = open_store("flow.db", KEY_A);
  bool enabled = false;
  OK(runqy_vault_store_enabled(store, &enabled, &err));
  CHECK(enabled);

  OK(runqy_vault_create(store, "api-keys", "keys for the model APIs", &err));
  OK(runqy_vault_create(store, "model-credentials", NULL, &err));
  OK(runqy_vault_set(store, "api-keys", "API_KEY", "old", true, &err));
  OK(runqy_vault_set(store, "api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx", true, &err));
  OK(runqy_vault_set(store, "model-credentials", "API_KEY", "new", true, &err));
  OK(runqy_vault_set(store, "model-credentials", "REGION", "eu-west-1", false, &err));
  OK(runqy_vault_set(store, "model-credentials", "GIT", "ghp_token", true, &err));
  OK(runqy_vault_set(store, "model-credentials", "EMPTY", "", true, &err));

  char *value = NULL;
  OK(runqy_vault_get(store, "api-keys", "OPENAI_API_KEY", &value, &err));
  CHECK(strcmp(value, "sk-proj-abc123xx") == 0);
  runqy_vault_string_free(value);
  OK(runqy_vault_get(store, "model-credentials", "EMPTY", &value, &err));
  CHECK(strcmp(value, "") == 0);
  runqy_vault_string_free(value);

  char *json = NULL;
  OK(runqy_vault_list_json(store, &json, &err));
  CHECK(strcmp(json,
               "[{\"name\":\"api-keys\",\"description\":\"keys for the model APIs\","
               "\"entry_count\":2},{\"name\":\"model-credentials\",\"description\":\"\","
               "\"entry_count\":4}]") == 0);
  runqy_vault_string_free(json);

  OK(runqy_vault_show_json(store, "api-keys", &json, &err));
  CHECK(strstr(json, "\"name\":\"api-keys\"") != NULL);
  CHECK(strstr(json, "\"key\":\"OPENAI_API_KEY\",\"value\":\"sk****xx\",\"is_secret\":true") != NULL);
  CHECK(strstr(json, "sk-proj-abc123xx") == NULL); /* secret values are masked */
  CHECK(strstr(json, "\"created_at\":\"") != NULL);
  runqy_vault_string_free(json);
  OK(runqy_vault_show_json(store, "model-credentials", &json, &err));
  CHECK(strstr(json, "\"key\":\"REGION\",\"value\":\"eu-west-1\",\"is_secret\":false") != NULL);
  runqy_vault_string_free(json);

  const char *both[] = {"api-keys", "model-credentials"};
  OK(runqy_vault_resolve_json(store, both, 2, &json, &err));
  CHECK(strstr(json, "\"API_KEY\":\"new\"") != NULL);
  CHECK(strstr(json, "\"API_KEY\":{\"vault\":\"model-credentials\",\"shadowed\":[\"api-keys\"]}") != NULL);
  runqy_vault_string_free(json);

  OK(runqy_vault_registration_payload(store, both, 2, "vault://model-credentials/GIT", &json, &err));
  CHECK(strcmp(json,
               "{\"git_token\":\"ghp_token\",\"vaults\":{\"API_KEY\":\"new\",\"EMPTY\":\"\","
               "\"GIT\":\"ghp_token\",\"OPENAI_API_KEY\":\"sk-proj-abc123xx\","
               "\"REGION\":\"eu-west-1\"}}") == 0);
  runqy_vault_string_free(json);

  /* A bad git token reference is a warning inside the payload, not a failure. */
  const char *one[] = {"api-keys"};
  OK(runqy_vault_registration_payload(store, one, 1, "vault://api-keys/NOPE", &json, &err));
  CHECK(strncmp(json, "{\"vaults\":{\"API_KEY\":\"old\",\"OPENAI_API_KEY\":\"sk-proj-abc123xx\"},\"warnings\":[\"git_token left out: ", 96) == 0);
  CHECK(strstr(json, "NOPE") != NULL);
  runqy_vault_string_free(json);

  /* No vaults and no token: the empty payload. */
  OK(runqy_vault_registration_payload(store, NULL, 0, NULL, &json, &err));
  CHECK(strcmp(json, "{}") == 0);
  runqy_vault_string_free(json);

  OK(runqy_vault_unset(store, "api-keys", "API_KEY", &err));
  EXPECT(runqy_vault_get(store, "api-keys", "API_KEY", &value, &err),
         RUNQY_VAULT_ENTRY_NOT_FOUND, "'API_KEY'");
  CHECK(value == NULL);
  OK(runqy_vault_delete(store, "api-keys", &err));
  OK(runqy_vault_list_json(store, &json, &err));
  CHECK(strstr(json, "api-keys") == NULL);
  runqy_vault_string_free(json);
  runqy_vault_store_free(store);

  /* Reopened, the data is still there. */
  store = open_store("flow.db", KEY_A);
  OK(runqy_vault_get(store, "model-credentials", "REGION", &value, &err));
  CHECK(strcmp(value, "eu-west-1") == 0);
  runqy_vault_string_free(value);
  runqy_vault_store_free(store);
}

static void test_each_core_error_has_its_code_message_and_http_status(void) {
  RunqyVaultStore *store = open_store("errors.db", KEY_A);
  char *value = NULL;
  char *json = NULL;
  OK(runqy_vault_create(store, "app", "", &err));

  EXPECT(runqy_vault_create(store, "app", "", &err), RUNQY_VAULT_VAULT_EXISTS, "'app' already exists");
  EXPECT(runqy_vault_create(store, "bad name!", "", &err), RUNQY_VAULT_INVALID_NAME, "bad name!");
  EXPECT(runqy_vault_create(store, "path", "", &err), RUNQY_VAULT_RESERVED_NAME, "path");
  EXPECT(runqy_vault_set(store, "app", "9LIVES", "v", true, &err), RUNQY_VAULT_INVALID_NAME, "9LIVES");
  EXPECT(runqy_vault_set(store, "app", "LD_PRELOAD", "v", true, &err), RUNQY_VAULT_RESERVED_NAME, "LD_PRELOAD");
  EXPECT(runqy_vault_set(store, "app", "RUNQY_X", "v", true, &err), RUNQY_VAULT_RESERVED_NAME, "RUNQY_X");
  size_t big = 65537;
  char *too_long = malloc(big + 1);
  memset(too_long, 'x', big);
  too_long[big] = '\0';
  EXPECT(runqy_vault_set(store, "app", "BIG", too_long, true, &err), RUNQY_VAULT_INVALID_VALUE, "'BIG'");
  free(too_long);
  EXPECT(runqy_vault_set(store, "nope", "K", "v", true, &err), RUNQY_VAULT_VAULT_NOT_FOUND, "'nope'");
  EXPECT(runqy_vault_get(store, "nope", "K", &value, &err), RUNQY_VAULT_VAULT_NOT_FOUND, "'nope'");
  EXPECT(runqy_vault_get(store, "app", "K", &value, &err), RUNQY_VAULT_ENTRY_NOT_FOUND, "'K'");
  EXPECT(runqy_vault_unset(store, "app", "K", &err), RUNQY_VAULT_ENTRY_NOT_FOUND, "'K'");
  EXPECT(runqy_vault_delete(store, "nope", &err), RUNQY_VAULT_VAULT_NOT_FOUND, "'nope'");
  EXPECT(runqy_vault_show_json(store, "nope", &json, &err), RUNQY_VAULT_VAULT_NOT_FOUND, "'nope'");
  const char *missing[] = {"gone-1", "app", "gone-2"};
  /* Every missing vault is named at once. */
  EXPECT(runqy_vault_resolve_json(store, missing, 3, &json, &err), RUNQY_VAULT_VAULT_NOT_FOUND, "'gone-1', 'gone-2'");
  EXPECT(runqy_vault_registration_payload(store, missing, 3, NULL, &json, &err), RUNQY_VAULT_VAULT_NOT_FOUND, "'gone-2'");
  CHECK(json == NULL);
  EXPECT(runqy_vault_rotate_key(store, KEY_A, &err), RUNQY_VAULT_INVALID_ARGUMENT, "current key");
  EXPECT(runqy_vault_rotate_key(store, "c2hvcnQ=", &err), RUNQY_VAULT_INVALID_MASTER_KEY, "new_master_key");
  runqy_vault_store_free(store);

  RunqyVaultStore *other = NULL;
  EXPECT(runqy_vault_store_open(db_path("errors.db"), KEY_B, &other, &err), RUNQY_VAULT_KEY_MISMATCH, "key id");
  CHECK(other == NULL);
  EXPECT(runqy_vault_store_open(db_path("errors.db"), "not base64 at all!", &other, &err),
         RUNQY_VAULT_INVALID_MASTER_KEY, "invalid master key");
  CHECK(other == NULL);

  /* A file that is not a database. */
  FILE *f = fopen(db_path("junk.db"), "w");
  CHECK(f != NULL);
  for (int i = 0; i < 100; i++) fputs("this is not a sqlite database\n", f);
  fclose(f);
  EXPECT(runqy_vault_store_open(db_path("junk.db"), KEY_A, &other, &err), RUNQY_VAULT_STORAGE, "not a database");
  CHECK(other == NULL);

  CHECK(runqy_vault_http_status(RUNQY_VAULT_OK) == 200);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_DISABLED) == 503);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_INVALID_MASTER_KEY) == 400);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_KEY_MISMATCH) == 500);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_VAULT_NOT_FOUND) == 404);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_ENTRY_NOT_FOUND) == 404);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_VAULT_EXISTS) == 409);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_INVALID_NAME) == 400);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_RESERVED_NAME) == 400);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_INVALID_VALUE) == 400);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_INVALID_ARGUMENT) == 400);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_DECRYPTION_FAILED) == 500);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_STORAGE) == 500);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_IO) == 500);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_PANIC) == 500);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_OTHER_ERROR) == 500);
  CHECK(runqy_vault_http_status((RunqyVaultResult)9999) == 500);
}

/* Flips the first ciphertext byte of every v2 blob ("RQV" 0x02 ‖ key id ‖
 * nonce ‖ ciphertext ‖ tag) in a closed store's file, which must hold
 * `expected` of them (an entry's value and its kept version): closing the
 * last connection checkpoints the WAL, so the blobs are in the main file. */
static void corrupt_blobs(const char *path, size_t expected) {
  FILE *f = fopen(path, "r+b");
  CHECK(f != NULL);
  if (f == NULL) return;
  static unsigned char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  const unsigned char magic[4] = {'R', 'Q', 'V', 0x02};
  size_t found = 0;
  for (size_t i = 0; i + 4 + 8 + 12 < n; i++) {
    if (memcmp(buf + i, magic, 4) == 0) {
      found++;
      buf[i + 4 + 8 + 12] ^= 0x01;
    }
  }
  CHECK(found == expected);
  CHECK(fseek(f, 0, SEEK_SET) == 0);
  CHECK(fwrite(buf, 1, n, f) == n);
  fclose(f);
}

static void test_decryption_failed_names_vault_and_key(void) {
  RunqyVaultStore *store = open_store("decrypt.db", KEY_A);
  OK(runqy_vault_create(store, "app", "", &err));
  OK(runqy_vault_set(store, "app", "TOKEN", "a-secret-value", true, &err));
  runqy_vault_store_free(store);
  corrupt_blobs(db_path("decrypt.db"), 2);

  store = open_store("decrypt.db", KEY_A);
  char *value = NULL;
  EXPECT(runqy_vault_get(store, "app", "TOKEN", &value, &err), RUNQY_VAULT_DECRYPTION_FAILED, "'TOKEN' in vault 'app'");
  CHECK(value == NULL);
  /* A tampered kept version names its version too. */
  EXPECT(runqy_vault_get_version(store, "app", "TOKEN", 1, &value, &err), RUNQY_VAULT_DECRYPTION_FAILED,
         "version 1 of key 'TOKEN' in vault 'app'");
  CHECK(value == NULL);
  runqy_vault_store_free(store);
}

static void test_history_versions_cas_rollback_restore_purge_and_limit(void) {
  RunqyVaultStore *store = open_store("history.db", KEY_A);
  OK(runqy_vault_store_set_actor(store, "c-test", &err));
  OK(runqy_vault_create(store, "ci", "", &err));
  OK(runqy_vault_set(store, "ci", "TOKEN", "ghp_first_value", true, &err));
  OK(runqy_vault_set(store, "ci", "TOKEN", "ghp_second_value", true, &err));

  char *json = NULL;
  OK(runqy_vault_history_json(store, "ci", "TOKEN", &json, &err));
  CHECK(strncmp(json, "[{\"version\":2,\"value\":\"gh****ue\",\"is_secret\":true,\"created_at\":\"", 62) == 0);
  CHECK(strstr(json, "\"actor\":\"c-test\",\"state\":\"current\",\"last_read\":null},{\"version\":1,") != NULL);
  CHECK(strstr(json, "\"state\":\"replaced\",\"last_read\":null}]") != NULL);
  CHECK(strstr(json, "ghp_") == NULL); /* masked */
  runqy_vault_string_free(json);
  EXPECT(runqy_vault_history_json(store, "ci", "NOPE", &json, &err), RUNQY_VAULT_ENTRY_NOT_FOUND, "'NOPE'");
  CHECK(json == NULL);

  char *value = NULL;
  OK(runqy_vault_get_version(store, "ci", "TOKEN", 1, &value, &err));
  CHECK(strcmp(value, "ghp_first_value") == 0);
  runqy_vault_string_free(value);
  EXPECT(runqy_vault_get_version(store, "ci", "TOKEN", 0, &value, &err), RUNQY_VAULT_VERSION_NOT_FOUND,
         "version 0 of key 'TOKEN' in vault 'ci' not found: versions count from 1");
  EXPECT(runqy_vault_get_version(store, "ci", "TOKEN", -7, &value, &err), RUNQY_VAULT_VERSION_NOT_FOUND, "version -7");
  EXPECT(runqy_vault_get_version(store, "ci", "TOKEN", 3, &value, &err), RUNQY_VAULT_VERSION_NOT_FOUND,
         "the newest version is 2");
  CHECK(value == NULL);

  int64_t version = -1;
  EXPECT(runqy_vault_set_cas(store, "ci", "TOKEN", "lost", true, 0, &version, &err), RUNQY_VAULT_VERSION_CONFLICT,
         "expected no entry (check-and-set 0), but the current version is 2");
  CHECK(version == 0);
  EXPECT(runqy_vault_set_cas(store, "ci", "TOKEN", "lost", true, -1, &version, &err), RUNQY_VAULT_INVALID_ARGUMENT,
         "check-and-set version -1");
  OK(runqy_vault_set_cas(store, "ci", "TOKEN", "ghp_third_value", true, 2, &version, &err));
  CHECK(version == 3);
  OK(runqy_vault_set_cas(store, "ci", "NEW", "fresh", false, 0, &version, &err));
  CHECK(version == 1);

  OK(runqy_vault_rollback(store, "ci", "TOKEN", 1, &version, &err));
  CHECK(version == 4);
  OK(runqy_vault_get(store, "ci", "TOKEN", &value, &err));
  CHECK(strcmp(value, "ghp_first_value") == 0);
  runqy_vault_string_free(value);
  EXPECT(runqy_vault_rollback(store, "ci", "TOKEN", 9, &version, &err), RUNQY_VAULT_VERSION_NOT_FOUND, "version 9");
  CHECK(version == 0);

  OK(runqy_vault_unset(store, "ci", "TOKEN", &err));
  EXPECT(runqy_vault_rollback(store, "ci", "TOKEN", 2, &version, &err), RUNQY_VAULT_ENTRY_NOT_FOUND,
         "it was removed (its last version is 4)");
  OK(runqy_vault_restore(store, "ci", "TOKEN", &version, &err));
  CHECK(version == 5);
  EXPECT(runqy_vault_restore(store, "ci", "TOKEN", &version, &err), RUNQY_VAULT_VERSION_CONFLICT,
         "entry 'TOKEN' in vault 'ci' is current (version 5)");
  EXPECT(runqy_vault_restore(store, "ci", "NEVER", &version, &err), RUNQY_VAULT_ENTRY_NOT_FOUND, "'NEVER'");

  uint32_t limit = 0;
  OK(runqy_vault_history_limit(store, &limit, &err));
  CHECK(limit == 10);
  uint64_t pruned = 99;
  OK(runqy_vault_set_history_limit(store, 2, &pruned, &err));
  CHECK(pruned == 3); /* TOKEN kept 5, now 4 and 5 */
  OK(runqy_vault_history_limit(store, &limit, &err));
  CHECK(limit == 2);
  EXPECT(runqy_vault_set_history_limit(store, 0, &pruned, &err), RUNQY_VAULT_INVALID_ARGUMENT,
         "invalid history limit 0");
  CHECK(pruned == 0);
  EXPECT(runqy_vault_set_history_limit(store, 4294967296LL, &pruned, &err), RUNQY_VAULT_INVALID_ARGUMENT,
         "invalid history limit 4294967296");

  OK(runqy_vault_purge(store, "ci", "TOKEN", &json, &err));
  CHECK(strcmp(json, "{\"versions\":2,\"entries\":1,\"vault_deleted\":false}") == 0);
  runqy_vault_string_free(json);
  EXPECT(runqy_vault_purge(store, "ci", "TOKEN", &json, &err), RUNQY_VAULT_ENTRY_NOT_FOUND, "'TOKEN'");
  CHECK(json == NULL);
  OK(runqy_vault_purge(store, "ci", NULL, &json, &err));
  CHECK(strcmp(json, "{\"versions\":1,\"entries\":1,\"vault_deleted\":true}") == 0);
  runqy_vault_string_free(json);
  EXPECT(runqy_vault_purge(store, "ci", NULL, &json, &err), RUNQY_VAULT_VAULT_NOT_FOUND, "'ci'");

  CHECK(runqy_vault_http_status(RUNQY_VAULT_VERSION_NOT_FOUND) == 404);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_VERSION_CONFLICT) == 409);
  CHECK(strcmp(runqy_vault_result_name(RUNQY_VAULT_VERSION_NOT_FOUND), "RUNQY_VAULT_VERSION_NOT_FOUND") == 0);
  CHECK(strcmp(runqy_vault_result_name(RUNQY_VAULT_VERSION_CONFLICT), "RUNQY_VAULT_VERSION_CONFLICT") == 0);
  runqy_vault_store_free(store);
}

/* Two handles on one file, two threads, the same expected version: one wins. */
struct cas_race {
  RunqyVaultStore *store;
  int64_t cas;
  RunqyVaultResult rc;
  pthread_barrier_t *barrier;
};

static void *cas_work(void *arg) {
  struct cas_race *r = arg;
  int64_t version = 0;
  pthread_barrier_wait(r->barrier);
  r->rc = runqy_vault_set_cas(r->store, "ci", "TOKEN", "racer", true, r->cas, &version, NULL);
  return NULL;
}

static void test_two_handles_racing_set_cas_give_one_win_and_one_conflict(void) {
  RunqyVaultStore *a = open_store("cas-race.db", KEY_A);
  OK(runqy_vault_create(a, "ci", "", &err));
  OK(runqy_vault_set(a, "ci", "TOKEN", "start", true, &err));
  RunqyVaultStore *b = open_store("cas-race.db", KEY_A);
  for (int64_t round = 1; round <= 10; round++) {
    pthread_barrier_t barrier;
    CHECK(pthread_barrier_init(&barrier, NULL, 2) == 0);
    struct cas_race ra = {a, round, RUNQY_VAULT_OK, &barrier};
    struct cas_race rb = {b, round, RUNQY_VAULT_OK, &barrier};
    pthread_t ta, tb;
    CHECK(pthread_create(&ta, NULL, cas_work, &ra) == 0);
    CHECK(pthread_create(&tb, NULL, cas_work, &rb) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&barrier);
    CHECK((ra.rc == RUNQY_VAULT_OK) != (rb.rc == RUNQY_VAULT_OK));
    CHECK(ra.rc == RUNQY_VAULT_VERSION_CONFLICT || rb.rc == RUNQY_VAULT_VERSION_CONFLICT);
  }
  runqy_vault_store_free(a);
  runqy_vault_store_free(b);
}

static void test_rolling_rotation_refuses_the_old_key_alone_after_a_write_under_the_new(void) {
  RunqyVaultStore *store = open_store("rolling.db", KEY_A);
  OK(runqy_vault_create(store, "app", "", &err));
  OK(runqy_vault_set(store, "app", "OLD", "under-a", true, &err));
  runqy_vault_store_free(store);

  setenv("RUNQY_VAULT_MASTER_KEY", KEY_B, 1);
  setenv("RUNQY_VAULT_MASTER_KEY_PREVIOUS", KEY_A, 1);
  store = open_store("rolling.db", NULL);
  char *value = NULL;
  OK(runqy_vault_get(store, "app", "OLD", &value, &err));
  CHECK(strcmp(value, "under-a") == 0);
  runqy_vault_string_free(value);
  OK(runqy_vault_set(store, "app", "NEW", "under-b", true, &err));
  runqy_vault_store_free(store);
  clear_key_env();

  RunqyVaultStore *old = NULL;
  EXPECT(runqy_vault_store_open(db_path("rolling.db"), KEY_A, &old, &err), RUNQY_VAULT_KEY_MISMATCH, "key id");
  CHECK(old == NULL);
}

/* Issue 17: Store(""), ":memory:" gave each pooled connection a private
 * database that vanished at close; a plaintext token was quoted in the
 * payload's warnings. */
static void test_in_memory_and_empty_paths_are_refused_and_no_token_is_echoed(void) {
  const char *bad[] = {"", ":memory:", "file::memory:?cache=shared"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    RunqyVaultStore *store = (RunqyVaultStore *)1;
    EXPECT(runqy_vault_store_open(bad[i], KEY_A, &store, &err), RUNQY_VAULT_INVALID_ARGUMENT,
           bad[i][0] ? "in-memory" : "empty");
    CHECK(store == NULL);
  }
  RunqyVaultStore *store = open_store("token.db", KEY_A);
  OK(runqy_vault_create(store, "ci", "", &err));
  const char *vaults[] = {"ci"};
  char *json = NULL;
  OK(runqy_vault_registration_payload(store, vaults, 1, "ghp_PLAINTEXTtoken123", &json, &err));
  CHECK(strstr(json, "\"warnings\":[\"git_token left out: invalid vault reference") != NULL);
  CHECK(strstr(json, "PLAINTEXT") == NULL);
  runqy_vault_string_free(json);
  runqy_vault_store_free(store);
}

static void test_store_without_key_opens_disabled_and_refuses_every_vault_call(void) {
  clear_key_env();
  RunqyVaultStore *store = open_store("disabled.db", NULL);
  bool enabled = true;
  OK(runqy_vault_store_enabled(store, &enabled, &err));
  CHECK(!enabled);
  char *out = NULL;
  const char *v[] = {"app"};
  EXPECT(runqy_vault_create(store, "app", "", &err), RUNQY_VAULT_DISABLED, "openssl rand -base64 32");
  EXPECT(runqy_vault_delete(store, "app", &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_set(store, "app", "K", "v", true, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_get(store, "app", "K", &out, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_unset(store, "app", "K", &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_list_json(store, &out, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_show_json(store, "app", &out, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_resolve_json(store, v, 1, &out, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_registration_payload(store, v, 1, NULL, &out, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_rotate_key(store, KEY_B, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  int64_t version = 0;
  uint32_t limit = 0;
  uint64_t pruned = 0;
  EXPECT(runqy_vault_history_json(store, "app", "K", &out, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_get_version(store, "app", "K", 1, &out, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_set_cas(store, "app", "K", "v", true, 0, &version, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_rollback(store, "app", "K", 1, &version, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_restore(store, "app", "K", &version, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_purge(store, "app", NULL, &out, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_history_limit(store, &limit, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  EXPECT(runqy_vault_set_history_limit(store, 3, &pruned, &err), RUNQY_VAULT_DISABLED, "vaults not configured");
  CHECK(out == NULL);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_DISABLED) == 503);
  runqy_vault_store_free(store);

  /* NULL key with the key in the environment: enabled. */
  setenv("RUNQY_VAULT_MASTER_KEY", KEY_A, 1);
  store = open_store("from-env.db", NULL);
  OK(runqy_vault_store_enabled(store, &enabled, &err));
  CHECK(enabled);
  runqy_vault_store_free(store);
  clear_key_env();
  /* An explicit key wins over a broken environment. */
  setenv("RUNQY_VAULT_MASTER_KEY", "broken", 1);
  store = open_store("explicit.db", KEY_A);
  runqy_vault_store_free(store);
  RunqyVaultStore *none = NULL;
  EXPECT(runqy_vault_store_open(db_path("broken.db"), NULL, &none, &err), RUNQY_VAULT_INVALID_MASTER_KEY, "RUNQY_VAULT_MASTER_KEY");
  clear_key_env();
}

/* Issue 17, "The master key printed in an error": a key pasted into the
 * _FILE variable is named by the variable only, never echoed. */
static void test_the_master_key_printed_in_an_error_key_in_the_file_variable_is_not_echoed(void) {
  clear_key_env();
  setenv("RUNQY_VAULT_MASTER_KEY_FILE", KEY_A, 1);
  RunqyVaultStore *none = NULL;
  EXPECT(runqy_vault_store_open(db_path("pasted.db"), NULL, &none, &err), RUNQY_VAULT_INVALID_MASTER_KEY,
         "invalid master key from RUNQY_VAULT_MASTER_KEY_FILE: cannot read the file");
  CHECK(none == NULL);
  RunqyVaultStore *again = NULL;
  char *msg = NULL;
  CHECK(runqy_vault_store_open(db_path("pasted.db"), NULL, &again, &msg) == RUNQY_VAULT_INVALID_MASTER_KEY);
  CHECK(msg != NULL && strstr(msg, KEY_A) == NULL);
  runqy_vault_string_free(msg);
  clear_key_env();
}

static void test_rotate_key_moves_the_store_to_the_new_key(void) {
  RunqyVaultStore *store = open_store("rotate.db", KEY_A);
  OK(runqy_vault_create(store, "app", "", &err));
  OK(runqy_vault_set(store, "app", "TOKEN", "t0ken", true, &err));
  OK(runqy_vault_rotate_key(store, KEY_B, &err));
  char *value = NULL;
  OK(runqy_vault_get(store, "app", "TOKEN", &value, &err));
  CHECK(strcmp(value, "t0ken") == 0);
  runqy_vault_string_free(value);
  runqy_vault_store_free(store);

  RunqyVaultStore *old = NULL;
  EXPECT(runqy_vault_store_open(db_path("rotate.db"), KEY_A, &old, &err), RUNQY_VAULT_KEY_MISMATCH, "key id");
  store = open_store("rotate.db", KEY_B);
  OK(runqy_vault_get(store, "app", "TOKEN", &value, &err));
  CHECK(strcmp(value, "t0ken") == 0);
  runqy_vault_string_free(value);
  runqy_vault_store_free(store);
}

static void test_generate_key_mask_version_and_string_free_null(void) {
  char *key = NULL;
  OK(runqy_vault_generate_key(&key, &err));
  CHECK(strlen(key) == 44 && key[43] == '=');
  /* The generated key opens a store. */
  RunqyVaultStore *store = open_store("generated.db", key);
  runqy_vault_store_free(store);
  char *key2 = NULL;
  OK(runqy_vault_generate_key(&key2, &err));
  CHECK(strcmp(key, key2) != 0);
  runqy_vault_string_free(key);
  runqy_vault_string_free(key2);

  char *masked = NULL;
  OK(runqy_vault_mask("sk-proj-abc123xx", &masked, &err));
  CHECK(strcmp(masked, "sk****xx") == 0);
  runqy_vault_string_free(masked);
  OK(runqy_vault_mask("", &masked, &err));
  CHECK(strcmp(masked, "") == 0);
  runqy_vault_string_free(masked);
  OK(runqy_vault_mask("abcd", &masked, &err));
  CHECK(strcmp(masked, "****") == 0);
  runqy_vault_string_free(masked);
  /* Counted in characters, not bytes: "héllo wörld" keeps "hé" and "ld". */
  OK(runqy_vault_mask("h\xc3\xa9llo w\xc3\xb6rld", &masked, &err));
  CHECK(strcmp(masked, "h\xc3\xa9****ld") == 0);
  runqy_vault_string_free(masked);

  char version[32];
  snprintf(version, sizeof version, "%d.%d.%d", RUNQY_VAULT_VERSION_MAJOR,
           RUNQY_VAULT_VERSION_MINOR, RUNQY_VAULT_VERSION_PATCH);
  CHECK(strcmp(runqy_vault_version(), version) == 0);

  runqy_vault_string_free(NULL);
  runqy_vault_store_free(NULL);
}

static void test_null_pointers_give_invalid_argument_naming_the_parameter(void) {
  RunqyVaultStore *store = open_store("null.db", KEY_A);
  OK(runqy_vault_create(store, "app", "", &err));
  char *out = (char *)1; /* set to NULL by the call even when it fails */
  bool flag = true;
  RunqyVaultStore *opened = (RunqyVaultStore *)1;
  const RunqyVaultResult BAD = RUNQY_VAULT_INVALID_ARGUMENT;

  EXPECT(runqy_vault_store_open(NULL, KEY_A, &opened, &err), BAD, "path is NULL");
  CHECK(opened == NULL);
  EXPECT(runqy_vault_store_open(db_path("x.db"), KEY_A, NULL, &err), BAD, "out is NULL");
  EXPECT(runqy_vault_store_enabled(NULL, &flag, &err), BAD, "store is NULL");
  CHECK(!flag);
  EXPECT(runqy_vault_store_enabled(store, NULL, &err), BAD, "enabled_out is NULL");
  EXPECT(runqy_vault_create(NULL, "app", "", &err), BAD, "store is NULL");
  EXPECT(runqy_vault_create(store, NULL, "", &err), BAD, "name is NULL");
  EXPECT(runqy_vault_delete(NULL, "app", &err), BAD, "store is NULL");
  EXPECT(runqy_vault_delete(store, NULL, &err), BAD, "name is NULL");
  EXPECT(runqy_vault_set(NULL, "app", "K", "v", true, &err), BAD, "store is NULL");
  EXPECT(runqy_vault_set(store, NULL, "K", "v", true, &err), BAD, "vault is NULL");
  EXPECT(runqy_vault_set(store, "app", NULL, "v", true, &err), BAD, "key is NULL");
  EXPECT(runqy_vault_set(store, "app", "K", NULL, true, &err), BAD, "value is NULL");
  EXPECT(runqy_vault_get(NULL, "app", "K", &out, &err), BAD, "store is NULL");
  CHECK(out == NULL);
  EXPECT(runqy_vault_get(store, NULL, "K", &out, &err), BAD, "vault is NULL");
  EXPECT(runqy_vault_get(store, "app", NULL, &out, &err), BAD, "key is NULL");
  EXPECT(runqy_vault_get(store, "app", "K", NULL, &err), BAD, "value_out is NULL");
  EXPECT(runqy_vault_unset(NULL, "app", "K", &err), BAD, "store is NULL");
  EXPECT(runqy_vault_unset(store, NULL, "K", &err), BAD, "vault is NULL");
  EXPECT(runqy_vault_unset(store, "app", NULL, &err), BAD, "key is NULL");
  EXPECT(runqy_vault_list_json(NULL, &out, &err), BAD, "store is NULL");
  EXPECT(runqy_vault_list_json(store, NULL, &err), BAD, "json_out is NULL");
  EXPECT(runqy_vault_show_json(NULL, "app", &out, &err), BAD, "store is NULL");
  EXPECT(runqy_vault_show_json(store, NULL, &out, &err), BAD, "name is NULL");
  EXPECT(runqy_vault_show_json(store, "app", NULL, &err), BAD, "json_out is NULL");
  const char *v[] = {"app"};
  EXPECT(runqy_vault_resolve_json(NULL, v, 1, &out, &err), BAD, "store is NULL");
  EXPECT(runqy_vault_resolve_json(store, v, 1, NULL, &err), BAD, "json_out is NULL");
  EXPECT(runqy_vault_registration_payload(NULL, v, 1, NULL, &out, &err), BAD, "store is NULL");
  EXPECT(runqy_vault_registration_payload(store, v, 1, NULL, NULL, &err), BAD, "json_out is NULL");
  EXPECT(runqy_vault_rotate_key(NULL, KEY_B, &err), BAD, "store is NULL");
  EXPECT(runqy_vault_rotate_key(store, NULL, &err), BAD, "new_master_key is NULL");
  EXPECT(runqy_vault_generate_key(NULL, &err), BAD, "key_out is NULL");
  EXPECT(runqy_vault_mask(NULL, &out, &err), BAD, "value is NULL");
  EXPECT(runqy_vault_mask("abc", NULL, &err), BAD, "masked_out is NULL");
  CHECK(out == NULL);
  int64_t version = 7;
  uint32_t limit = 7;
  uint64_t pruned = 7;
  EXPECT(runqy_vault_history_json(NULL, "app", "K", &out, &err), BAD, "store is NULL");
  EXPECT(runqy_vault_history_json(store, NULL, "K", &out, &err), BAD, "vault is NULL");
  EXPECT(runqy_vault_history_json(store, "app", NULL, &out, &err), BAD, "key is NULL");
  EXPECT(runqy_vault_history_json(store, "app", "K", NULL, &err), BAD, "json_out is NULL");
  EXPECT(runqy_vault_get_version(NULL, "app", "K", 1, &out, &err), BAD, "store is NULL");
  EXPECT(runqy_vault_get_version(store, NULL, "K", 1, &out, &err), BAD, "vault is NULL");
  EXPECT(runqy_vault_get_version(store, "app", NULL, 1, &out, &err), BAD, "key is NULL");
  EXPECT(runqy_vault_get_version(store, "app", "K", 1, NULL, &err), BAD, "value_out is NULL");
  EXPECT(runqy_vault_set_cas(NULL, "app", "K", "v", true, 0, &version, &err), BAD, "store is NULL");
  CHECK(version == 0);
  EXPECT(runqy_vault_set_cas(store, NULL, "K", "v", true, 0, &version, &err), BAD, "vault is NULL");
  EXPECT(runqy_vault_set_cas(store, "app", NULL, "v", true, 0, &version, &err), BAD, "key is NULL");
  EXPECT(runqy_vault_set_cas(store, "app", "K", NULL, true, 0, &version, &err), BAD, "value is NULL");
  EXPECT(runqy_vault_set_cas(store, "app", "K", "v", true, 0, NULL, &err), BAD, "version_out is NULL");
  EXPECT(runqy_vault_rollback(NULL, "app", "K", 1, &version, &err), BAD, "store is NULL");
  EXPECT(runqy_vault_rollback(store, NULL, "K", 1, &version, &err), BAD, "vault is NULL");
  EXPECT(runqy_vault_rollback(store, "app", NULL, 1, &version, &err), BAD, "key is NULL");
  EXPECT(runqy_vault_rollback(store, "app", "K", 1, NULL, &err), BAD, "version_out is NULL");
  EXPECT(runqy_vault_restore(NULL, "app", "K", &version, &err), BAD, "store is NULL");
  EXPECT(runqy_vault_restore(store, NULL, "K", &version, &err), BAD, "vault is NULL");
  EXPECT(runqy_vault_restore(store, "app", NULL, &version, &err), BAD, "key is NULL");
  EXPECT(runqy_vault_restore(store, "app", "K", NULL, &err), BAD, "version_out is NULL");
  EXPECT(runqy_vault_purge(NULL, "app", "K", &out, &err), BAD, "store is NULL");
  EXPECT(runqy_vault_purge(store, NULL, "K", &out, &err), BAD, "vault is NULL");
  EXPECT(runqy_vault_purge(store, "app", "K", NULL, &err), BAD, "json_out is NULL");
  EXPECT(runqy_vault_history_limit(NULL, &limit, &err), BAD, "store is NULL");
  CHECK(limit == 0);
  EXPECT(runqy_vault_history_limit(store, NULL, &err), BAD, "limit_out is NULL");
  EXPECT(runqy_vault_set_history_limit(NULL, 3, &pruned, &err), BAD, "store is NULL");
  CHECK(pruned == 0);
  EXPECT(runqy_vault_set_history_limit(store, 3, NULL, &err), BAD, "pruned_out is NULL");
  CHECK(out == NULL);

  /* err_out NULL: the result code alone still says what happened. */
  CHECK(runqy_vault_get(store, "app", "K", &out, NULL) == RUNQY_VAULT_ENTRY_NOT_FOUND);
  CHECK(runqy_vault_get(NULL, "app", "K", &out, NULL) == BAD);
  CHECK(runqy_vault_create(store, "second", NULL, NULL) == RUNQY_VAULT_OK);
  runqy_vault_store_free(store);
}

static void test_vault_lists_null_or_with_null_entries_are_refused(void) {
  RunqyVaultStore *store = open_store("lists.db", KEY_A);
  OK(runqy_vault_create(store, "app", "", &err));
  char *json = NULL;
  const RunqyVaultResult BAD = RUNQY_VAULT_INVALID_ARGUMENT;
  EXPECT(runqy_vault_resolve_json(store, NULL, 2, &json, &err), BAD, "vaults is NULL but its count is 2");
  EXPECT(runqy_vault_registration_payload(store, NULL, 1, NULL, &json, &err), BAD, "vaults is NULL but its count is 1");
  const char *holes[] = {"app", NULL};
  EXPECT(runqy_vault_resolve_json(store, holes, 2, &json, &err), BAD, "vaults[1] is NULL");
  EXPECT(runqy_vault_registration_payload(store, holes, 2, NULL, &json, &err), BAD, "vaults[1] is NULL");
  const char *none[] = {NULL};
  EXPECT(runqy_vault_registration_payload(store, none, 1, NULL, &json, &err), BAD, "vaults[0] is NULL");
  EXPECT(runqy_vault_resolve_json(store, holes, (size_t)-1, &json, &err), BAD, "impossibly large");
  CHECK(json == NULL);
  /* A count of 0 ignores the pointer: an empty merge. */
  OK(runqy_vault_resolve_json(store, NULL, 0, &json, &err));
  CHECK(strcmp(json, "{\"values\":{},\"sources\":{}}") == 0);
  runqy_vault_string_free(json);
  runqy_vault_store_free(store);
}

static void test_non_utf8_text_gives_invalid_argument(void) {
  RunqyVaultStore *store = open_store("utf8.db", KEY_A);
  OK(runqy_vault_create(store, "app", "", &err));
  const char *bad = "\xff\xfe";
  char *out = NULL;
  const RunqyVaultResult BAD = RUNQY_VAULT_INVALID_ARGUMENT;
  RunqyVaultStore *none = NULL;
  EXPECT(runqy_vault_store_open(bad, KEY_A, &none, &err), BAD, "path is not valid UTF-8");
  EXPECT(runqy_vault_store_open(db_path("u.db"), bad, &none, &err), BAD, "master_key_or_null is not valid UTF-8");
  EXPECT(runqy_vault_create(store, bad, NULL, &err), BAD, "name is not valid UTF-8");
  EXPECT(runqy_vault_create(store, "ok", bad, &err), BAD, "description_or_null is not valid UTF-8");
  EXPECT(runqy_vault_set(store, "app", "K", bad, true, &err), BAD, "value is not valid UTF-8");
  EXPECT(runqy_vault_set(store, "app", bad, "v", true, &err), BAD, "key is not valid UTF-8");
  EXPECT(runqy_vault_get(store, bad, "K", &out, &err), BAD, "vault is not valid UTF-8");
  const char *v[] = {"app", bad};
  EXPECT(runqy_vault_resolve_json(store, v, 2, &out, &err), BAD, "vaults[1] is not valid UTF-8");
  EXPECT(runqy_vault_registration_payload(store, v, 1, bad, &out, &err), BAD, "git_token_ref_or_null is not valid UTF-8");
  EXPECT(runqy_vault_mask(bad, &out, &err), BAD, "value is not valid UTF-8");
  EXPECT(runqy_vault_rotate_key(store, bad, &err), BAD, "new_master_key is not valid UTF-8");
  int64_t version = 0;
  EXPECT(runqy_vault_history_json(store, "app", bad, &out, &err), BAD, "key is not valid UTF-8");
  EXPECT(runqy_vault_get_version(store, bad, "K", 1, &out, &err), BAD, "vault is not valid UTF-8");
  EXPECT(runqy_vault_set_cas(store, "app", "K", bad, true, 0, &version, &err), BAD, "value is not valid UTF-8");
  EXPECT(runqy_vault_rollback(store, "app", bad, 1, &version, &err), BAD, "key is not valid UTF-8");
  EXPECT(runqy_vault_restore(store, bad, "K", &version, &err), BAD, "vault is not valid UTF-8");
  EXPECT(runqy_vault_purge(store, "app", bad, &out, &err), BAD, "key_or_null is not valid UTF-8");
  /* Nothing was written by the refused calls. */
  OK(runqy_vault_list_json(store, &out, &err));
  CHECK(strcmp(out, "[{\"name\":\"app\",\"description\":\"\",\"entry_count\":0}]") == 0);
  runqy_vault_string_free(out);
  runqy_vault_store_free(store);
}

static void test_freed_and_foreign_handles_are_refused(void) {
  RunqyVaultStore *store = open_store("freed.db", KEY_A);
  runqy_vault_store_free(store);
  bool enabled = true;
  EXPECT(runqy_vault_store_enabled(store, &enabled, &err), RUNQY_VAULT_INVALID_ARGUMENT, "not an open RunqyVaultStore");
  EXPECT(runqy_vault_create(store, "app", NULL, &err), RUNQY_VAULT_INVALID_ARGUMENT, "not an open RunqyVaultStore");
  runqy_vault_store_free(store); /* double free: ignored */

  int not_a_store = 42;
  RunqyVaultStore *foreign = (RunqyVaultStore *)&not_a_store;
  EXPECT(runqy_vault_create(foreign, "app", NULL, &err), RUNQY_VAULT_INVALID_ARGUMENT, "not an open RunqyVaultStore");
  runqy_vault_store_free(foreign); /* not ours: ignored */
  CHECK(not_a_store == 42);
}

static void test_panic_is_caught_at_the_boundary(void) {
  EXPECT(runqy_vault_test_panic(&err), RUNQY_VAULT_PANIC, "panicked");
  CHECK(runqy_vault_test_panic(NULL) == RUNQY_VAULT_PANIC);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_PANIC) == 500);
  /* The library still works after a caught panic. */
  RunqyVaultStore *store = open_store("after-panic.db", KEY_A);
  OK(runqy_vault_create(store, "app", NULL, &err));
  runqy_vault_store_free(store);
}

#define THREADS 8
#define ROUNDS 25

struct worker {
  RunqyVaultStore *store;
  int id;
  int failures;
};

static void *work(void *arg) {
  struct worker *w = arg;
  char key[32], value[64], *got = NULL, *json = NULL, *e = NULL;
  const char *vaults[] = {"shared"};
  for (int i = 0; i < ROUNDS; i++) {
    snprintf(key, sizeof key, "K_%d_%d", w->id, i);
    snprintf(value, sizeof value, "value-%d-%d", w->id, i);
    if (runqy_vault_set(w->store, "shared", key, value, true, &e) != RUNQY_VAULT_OK) w->failures++;
    if (runqy_vault_get(w->store, "shared", key, &got, &e) != RUNQY_VAULT_OK || strcmp(got, value) != 0)
      w->failures++;
    runqy_vault_string_free(got);
    if (runqy_vault_registration_payload(w->store, vaults, 1, NULL, &json, &e) != RUNQY_VAULT_OK ||
        strstr(json, value) == NULL)
      w->failures++;
    runqy_vault_string_free(json);
    /* A failing call from many threads: each gets its own message. */
    if (runqy_vault_get(w->store, "shared", "MISSING", &got, &e) != RUNQY_VAULT_ENTRY_NOT_FOUND ||
        strstr(e, "'MISSING'") == NULL)
      w->failures++;
    runqy_vault_string_free(e);
    e = NULL;
  }
  return NULL;
}

static void test_one_handle_many_threads_sees_every_write(void) {
  RunqyVaultStore *store = open_store("threads.db", KEY_A);
  OK(runqy_vault_create(store, "shared", "", &err));
  pthread_t threads[THREADS];
  struct worker workers[THREADS];
  for (int t = 0; t < THREADS; t++) {
    workers[t] = (struct worker){store, t, 0};
    CHECK(pthread_create(&threads[t], NULL, work, &workers[t]) == 0);
  }
  for (int t = 0; t < THREADS; t++) {
    CHECK(pthread_join(threads[t], NULL) == 0);
    CHECK(workers[t].failures == 0);
  }
  char *json = NULL;
  OK(runqy_vault_list_json(store, &json, &err));
  char want[128];
  snprintf(want, sizeof want, "[{\"name\":\"shared\",\"description\":\"\",\"entry_count\":%d}]", THREADS * ROUNDS);
  CHECK(strcmp(json, want) == 0);
  runqy_vault_string_free(json);
  runqy_vault_store_free(store);
}

static void remove_dir(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static void test_usage_and_check_json_read_queue_configurations(void) {
  unsetenv("QUEUE_WORKERS_DIR");
  RunqyVaultStore *store = open_store("queues.db", KEY_A);
  OK(runqy_vault_create(store, "api-keys", NULL, &err));
  OK(runqy_vault_create(store, "old", NULL, &err));
  OK(runqy_vault_set(store, "api-keys", "K", "v", true, &err));
  char yaml[512], nope[512];
  snprintf(yaml, sizeof yaml, "%s", db_path("queues.yaml"));
  snprintf(nope, sizeof nope, "%s", db_path("nope.yaml"));
  FILE *f = fopen(yaml, "w");
  CHECK(f != NULL);
  fputs("queues:\n  inference:\n    deployment:\n      vaults: [api-keys, gone]\n"
        "      git_token: ghp_plaintext_s3cr3t\n", f);
  fclose(f);
  const char *paths[] = {yaml};

  char *json = NULL;
  OK(runqy_vault_usage_json(store, paths, 1, &json, &err));
  CHECK(strcmp(json,
               "{\"vaults\":[{\"vault\":\"api-keys\",\"queues\":[\"inference\"],\"git_token_of\":[]},"
               "{\"vault\":\"old\",\"queues\":[],\"git_token_of\":[]}],"
               "\"missing\":[{\"vault\":\"gone\",\"queues\":[\"inference\"],\"git_token_of\":[]}],"
               "\"problems\":[]}") == 0);
  runqy_vault_string_free(json);

  /* Findings are data: the call succeeds and the report counts the errors. */
  OK(runqy_vault_check_json(store, paths, 1, 0, &json, &err));
  CHECK(strstr(json, "\"check\":\"missing_vault\",\"queue\":\"inference\",\"vault\":\"gone\"") != NULL);
  CHECK(strstr(json, "\"check\":\"git_token\"") != NULL);
  CHECK(strstr(json, "s3cr3t") == NULL);
  CHECK(strstr(json, "\"errors\":1,") != NULL);
  runqy_vault_string_free(json);

  /* No paths and no QUEUE_WORKERS_DIR: only the server's table (none here). */
  OK(runqy_vault_usage_json(store, NULL, 0, &json, &err));
  CHECK(strstr(json, "\"missing\":[]") != NULL);
  runqy_vault_string_free(json);

  const char *missing[] = {nope};
  EXPECT(runqy_vault_usage_json(store, missing, 1, &json, &err), RUNQY_VAULT_IO, "nope.yaml");
  CHECK(json == NULL);
  EXPECT(runqy_vault_check_json(store, missing, 1, 0, &json, &err), RUNQY_VAULT_IO,
         "queue configuration not found");
  EXPECT(runqy_vault_usage_json(store, NULL, 1, &json, &err), RUNQY_VAULT_INVALID_ARGUMENT,
         "config_paths is NULL");
  EXPECT(runqy_vault_check_json(store, paths, 1, 0, NULL, &err), RUNQY_VAULT_INVALID_ARGUMENT,
         "json_out is NULL");
  EXPECT(runqy_vault_usage_json(NULL, paths, 1, &json, &err), RUNQY_VAULT_INVALID_ARGUMENT,
         "store is NULL");
  runqy_vault_store_free(store);

  /* A disabled store is checked too: its finding says so. */
  clear_key_env();
  store = open_store("queues.db", NULL);
  OK(runqy_vault_check_json(store, paths, 1, 30, &json, &err));
  CHECK(strstr(json, "\"check\":\"store_key\"") != NULL);
  CHECK(strstr(json, "vaults not configured") != NULL);
  runqy_vault_string_free(json);
  runqy_vault_store_free(store);
}

/* Flips one byte of the first occurrence of `text` in a closed store's file. */
static void edit_in_file(const char *path, const char *text) {
  FILE *f = fopen(path, "r+b");
  CHECK(f != NULL);
  if (f == NULL) return;
  static unsigned char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  size_t len = strlen(text);
  size_t at = n;
  for (size_t i = 0; i + len <= n; i++) {
    if (memcmp(buf + i, text, len) == 0) {
      at = i;
      break;
    }
  }
  CHECK(at < n);
  buf[at + len - 1] ^= 0x01;
  CHECK(fseek(f, 0, SEEK_SET) == 0);
  CHECK(fwrite(buf, 1, n, f) == n);
  fclose(f);
}

static void test_audit_log_actors_verify_prune_and_a_tampered_record(void) {
  RunqyVaultStore *store = open_store("audit.db", KEY_A);
  char *value = NULL;
  char *json = NULL;
  uint64_t n = 0;
  bool on = false;
  OK(runqy_vault_store_set_actor(store, "c-server", &err));
  OK(runqy_vault_create(store, "ci", "", &err));
  OK(runqy_vault_set(store, "ci", "TOKEN", "c-secret-value", true, &err));
  OK(runqy_vault_get_as(store, "worker:1 queue:q", "ci", "TOKEN", &value, &err));
  CHECK(strcmp(value, "c-secret-value") == 0);
  runqy_vault_string_free(value);
  const char *vaults[] = {"ci"};
  OK(runqy_vault_registration_payload_as(store, "worker:1 queue:q", vaults, 1, NULL, &json, &err));
  runqy_vault_string_free(json);
  OK(runqy_vault_set_as(store, NULL, "ci", "OTHER", "x-value", true, &err)); /* NULL: the handle's actor */

  OK(runqy_vault_audit_log_json(store, "{\"actor\": \"worker:1 queue:q\"}", &json, &err));
  CHECK(strstr(json, "\"operation\":\"get\"") != NULL);
  CHECK(strstr(json, "\"operation\":\"payload\"") != NULL);
  CHECK(strstr(json, "\"delivered\":[{\"key\":\"TOKEN\",\"vault\":\"ci\",\"version\":1}]") != NULL);
  CHECK(strstr(json, "hmac-sha256:") != NULL);
  CHECK(strstr(json, "c-secret-value") == NULL);
  runqy_vault_string_free(json);
  OK(runqy_vault_audit_log_json(store, NULL, &json, &err));
  CHECK(strstr(json, "\"actor\":\"c-server\",\"operation\":\"create\"") != NULL);
  CHECK(strstr(json, "\"actor\":\"c-server\",\"operation\":\"set\",\"vault\":\"ci\",\"key\":\"OTHER\"") != NULL);
  runqy_vault_string_free(json);
  OK(runqy_vault_audit_verify(store, &n, &err));
  CHECK(n == 5);
  OK(runqy_vault_audit_problem(store, &value, &err));
  CHECK(value == NULL);

  OK(runqy_vault_audit_reads(store, &on, &err));
  CHECK(on);
  OK(runqy_vault_set_audit_reads(store, false, &err));
  OK(runqy_vault_audit_reads(store, &on, &err));
  CHECK(!on);
  OK(runqy_vault_set_audit_reads(store, true, &err));

  EXPECT(runqy_vault_audit_log_json(store, "{\"keys\": \"K\"}", &json, &err), RUNQY_VAULT_INVALID_ARGUMENT, "unknown field `keys`");
  EXPECT(runqy_vault_audit_log_json(store, "{\"limit\": 0}", &json, &err), RUNQY_VAULT_INVALID_ARGUMENT, "invalid limit 0");
  EXPECT(runqy_vault_audit_log_json(store, "{\"operation\": \"steal\"}", &json, &err), RUNQY_VAULT_INVALID_ARGUMENT, "unknown operation 'steal'");
  EXPECT(runqy_vault_audit_log_json(store, "not json", &json, &err), RUNQY_VAULT_INVALID_ARGUMENT, "invalid audit filter JSON");
  EXPECT(runqy_vault_audit_prune(store, "soon", &n, &err), RUNQY_VAULT_INVALID_ARGUMENT, "invalid before date 'soon'");
  EXPECT(runqy_vault_store_set_actor(store, "", &err), RUNQY_VAULT_INVALID_ARGUMENT, "actor");
  EXPECT(runqy_vault_store_set_actor(store, NULL, &err), RUNQY_VAULT_INVALID_ARGUMENT, "actor");
  char long_actor[300];
  memset(long_actor, 'w', 257);
  long_actor[257] = '\0';
  EXPECT(runqy_vault_get_as(store, long_actor, "ci", "TOKEN", &value, &err), RUNQY_VAULT_INVALID_ARGUMENT, "at most 256");
  CHECK(value == NULL);
  OK(runqy_vault_audit_prune(store, "2000-01-01", &n, &err));
  CHECK(n == 0);
  runqy_vault_store_free(store);

  /* A record edited in the file: verify names it, everything else works. */
  edit_in_file(db_path("audit.db"), "worker:1 queue:q");
  store = open_store("audit.db", KEY_A);
  EXPECT(runqy_vault_audit_verify(store, &n, &err), RUNQY_VAULT_AUDIT_BROKEN, ": does not verify (edited");
  OK(runqy_vault_get(store, "ci", "TOKEN", &value, &err));
  runqy_vault_string_free(value);
  CHECK(runqy_vault_http_status(RUNQY_VAULT_AUDIT_BROKEN) == 500);
  CHECK(strcmp(runqy_vault_result_name(RUNQY_VAULT_AUDIT_BROKEN), "RUNQY_VAULT_AUDIT_BROKEN") == 0);
  runqy_vault_store_free(store);
}

/* Appends `len` bytes at `p` to a growing buffer (test helper). */
struct bytes {
  char data[4096];
  size_t len;
};

static void take(struct bytes *b, char *p, size_t len) {
  CHECK(len == 0 ? p == NULL : p != NULL);
  CHECK(b->len + len <= sizeof b->data);
  if (len > 0) memcpy(b->data + b->len, p, len);
  b->len += len;
  runqy_vault_bytes_free(p, len);
}

static void feed(RunqyVaultRedactor *r, struct bytes *b, const char *buf, size_t len) {
  char *out = (char *)1;
  size_t out_len = 99;
  OK(runqy_vault_redactor_feed(r, (const uint8_t *)buf, len, &out, &out_len, &err));
  take(b, out, out_len);
}

static void finish(RunqyVaultRedactor *r, struct bytes *b) {
  char *out = NULL;
  size_t out_len = 0;
  OK(runqy_vault_redactor_finish(r, &out, &out_len, &err));
  take(b, out, out_len);
}

static void test_redactor_masks_values_and_their_forms_however_the_writes_are_cut(void) {
  const char *names[] = {"API_KEY", "PORT"};
  const char *values[] = {"sk-proj-abc123", "8080"};
  RunqyVaultRedactor *r = NULL;
  OK(runqy_vault_redactor_new(names, values, 2, &r, &err));
  CHECK(r != NULL);
  /* The value, its base64 and its percent-encoding; "8080" is too short. */
  const char *text = "key=sk-proj-abc123 b64=c2stcHJvai1hYmMxMjM= url=sk-proj-abc123 port=8080\n";
  const char *want = "key=sk****23 b64=sk****23 url=sk****23 port=8080\n";
  size_t n = strlen(text);
  for (size_t cut = 0; cut <= n; cut++) {
    struct bytes b = {0};
    feed(r, &b, text, cut);
    feed(r, &b, text + cut, n - cut);
    finish(r, &b);
    CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
  }
  /* A complete line is never held back; a partial value is, until decided. */
  struct bytes b = {0};
  feed(r, &b, "line one\nkey=sk-pr", 18);
  CHECK(b.len == 13 && memcmp(b.data, "line one\nkey=", 13) == 0);
  feed(r, &b, "oj-abc123\n", 10);
  CHECK(b.len == 22 && memcmp(b.data, "line one\nkey=sk****23\n", 22) == 0);
  finish(r, &b);
  CHECK(b.len == 22);
  /* Bytes that are not UTF-8, NUL among them, pass through unchanged. */
  const char binary[] = {'\0', (char)0xff, (char)0xfe, 'x', '\0', (char)0x80};
  struct bytes raw = {0};
  feed(r, &raw, binary, sizeof binary);
  finish(r, &raw);
  CHECK(raw.len == sizeof binary && memcmp(raw.data, binary, sizeof binary) == 0);

  char *json = NULL;
  OK(runqy_vault_redactor_skipped_json(r, &json, &err));
  CHECK(strcmp(json, "[\"PORT\"]") == 0);
  runqy_vault_string_free(json);

  /* A clone is a stream of its own over the same values. */
  RunqyVaultRedactor *second = NULL;
  OK(runqy_vault_redactor_clone(r, &second, &err));
  struct bytes one = {0}, two = {0};
  feed(r, &one, "a=sk-proj-", 10);
  feed(second, &two, "b=sk-proj-abc123\n", 17);
  feed(r, &one, "abc123\n", 7);
  CHECK(one.len == 11 && memcmp(one.data, "a=sk****23\n", 11) == 0);
  CHECK(two.len == 11 && memcmp(two.data, "b=sk****23\n", 11) == 0);
  runqy_vault_redactor_free(second);
  runqy_vault_redactor_free(r);

  /* No values: everything passes. */
  OK(runqy_vault_redactor_new(NULL, NULL, 0, &r, &err));
  struct bytes all = {0};
  feed(r, &all, "sk-proj-abc123", 14);
  CHECK(all.len == 14);
  runqy_vault_redactor_free(r);
}

static void test_redactor_from_payload_masks_vaults_and_git_token(void) {
  RunqyVaultRedactor *r = NULL;
  /* The whole registration response a runqy server sends a worker. */
  OK(runqy_vault_redactor_from_payload(
      "{\"redis\":{\"addr\":\"localhost:6379\"},\"vaults\":{\"GITHUB_TOKEN\":\"ghp_abcdef123456\",\"N\":\"1\"},"
      "\"git_token\":\"ghp_clone_token_99\"}",
      &r, &err));
  struct bytes b = {0};
  const char *text = "clone https://ghp_clone_token_99@github.com token=ghp_abcdef123456\n";
  feed(r, &b, text, strlen(text));
  finish(r, &b);
  const char *want = "clone https://gh****99@github.com token=gh****56\n";
  CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
  char *json = NULL;
  OK(runqy_vault_redactor_skipped_json(r, &json, &err));
  CHECK(strcmp(json, "[\"N\"]") == 0);
  runqy_vault_string_free(json);
  runqy_vault_redactor_free(r);

  r = (RunqyVaultRedactor *)1;
  EXPECT(runqy_vault_redactor_from_payload("{\"vaults\":{\"K\":\"sk-secret", &r, &err),
         RUNQY_VAULT_INVALID_ARGUMENT, "not valid JSON");
  CHECK(r == NULL);
  EXPECT(runqy_vault_redactor_from_payload("{\"vaults\":{\"API_KEY\":12345678}}", &r, &err),
         RUNQY_VAULT_INVALID_ARGUMENT, "the value of key 'API_KEY' is a number");
}

static void test_redactor_refuses_null_bad_and_freed_handles(void) {
  RunqyVaultRedactor *r = NULL;
  const char *names[] = {"A", NULL};
  const char *values[] = {"long-enough-value", "x"};
  EXPECT(runqy_vault_redactor_new(names, values, 2, &r, &err), RUNQY_VAULT_INVALID_ARGUMENT, "names[1] is NULL");
  EXPECT(runqy_vault_redactor_new(NULL, values, 1, &r, &err), RUNQY_VAULT_INVALID_ARGUMENT, "names is NULL");
  EXPECT(runqy_vault_redactor_new(names, values, 1, NULL, &err), RUNQY_VAULT_INVALID_ARGUMENT, "out is NULL");
  const char bad[] = {(char)0xff, 0};
  const char *bad_values[] = {bad};
  EXPECT(runqy_vault_redactor_new(names, bad_values, 1, &r, &err), RUNQY_VAULT_INVALID_ARGUMENT,
         "values[0] is not valid UTF-8");
  EXPECT(runqy_vault_redactor_from_payload(NULL, &r, &err), RUNQY_VAULT_INVALID_ARGUMENT, "payload_json is NULL");

  OK(runqy_vault_redactor_new(names, values, 1, &r, &err));
  char *out = NULL;
  size_t out_len = 0;
  EXPECT(runqy_vault_redactor_feed(r, NULL, 3, &out, &out_len, &err), RUNQY_VAULT_INVALID_ARGUMENT,
         "buf is NULL but its length is 3");
  OK(runqy_vault_redactor_feed(r, NULL, 0, &out, &out_len, &err));
  CHECK(out == NULL && out_len == 0);
  EXPECT(runqy_vault_redactor_feed(r, (const uint8_t *)"x", 1, NULL, &out_len, &err),
         RUNQY_VAULT_INVALID_ARGUMENT, "out is NULL");
  EXPECT(runqy_vault_redactor_finish(r, &out, NULL, &err), RUNQY_VAULT_INVALID_ARGUMENT, "out_len is NULL");
  EXPECT(runqy_vault_redactor_feed(NULL, (const uint8_t *)"x", 1, &out, &out_len, &err),
         RUNQY_VAULT_INVALID_ARGUMENT, "redactor is NULL");
  runqy_vault_redactor_free(r);
  EXPECT(runqy_vault_redactor_feed(r, (const uint8_t *)"x", 1, &out, &out_len, &err),
         RUNQY_VAULT_INVALID_ARGUMENT, "not an open RunqyVaultRedactor");
  runqy_vault_redactor_free(r); /* double free: ignored */
  runqy_vault_redactor_free(NULL);
  runqy_vault_bytes_free(NULL, 0);

  /* A store handle is not a redactor handle, nor the other way round. */
  RunqyVaultStore *store = open_store("not-a-redactor.db", KEY_A);
  char *json = NULL;
  EXPECT(runqy_vault_redactor_skipped_json((const RunqyVaultRedactor *)store, &json, &err),
         RUNQY_VAULT_INVALID_ARGUMENT, "not an open RunqyVaultRedactor");
  runqy_vault_store_free(store);
}

static void test_child_env_of_a_worker_holding_the_master_key_and_api_key_passes_on_neither(void) {
  /* Issue 12's new user: the worker's own environment holds its credentials. */
  const char *base[] = {"HOME=/home/worker",
                        "RUNQY_VAULT_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                        "RUNQY_VAULT_MASTER_KEY_FILE=/run/secrets/key",
                        "RUNQY_API_KEY=worker-api-key",
                        "RUNQY_VAULT_KEYS=STALE",
                        "API_KEY=inherited",
                        NULL};
  const char *payload = "{\"vaults\":{\"API_KEY\":\"sk-proj-abc123\",\"DB_URL\":\"postgres://u:p@h/db\"},"
                        "\"git_token\":\"ghp_clone_token\"}";
  char **env = NULL;
  size_t n = 99;
  OK(runqy_vault_child_env(payload, base, NULL, 0, &env, &n, &err));
  const char *want[] = {"API_KEY=sk-proj-abc123", "DB_URL=postgres://u:p@h/db", "HOME=/home/worker",
                        "RUNQY_VAULT_KEYS=API_KEY,DB_URL"};
  CHECK(n == 4);
  for (size_t i = 0; i < n; i++) CHECK(strcmp(env[i], want[i]) == 0);
  CHECK(env[n] == NULL);
  runqy_vault_env_free(env);

  /* keep names exactly the RUNQY_ variables that pass on. */
  const char *keep[] = {"RUNQY_API_KEY"};
  OK(runqy_vault_child_env("{}", base, keep, 1, &env, &n, &err));
  CHECK(n == 4);
  CHECK(strcmp(env[0], "API_KEY=inherited") == 0 && strcmp(env[1], "HOME=/home/worker") == 0);
  CHECK(strcmp(env[2], "RUNQY_API_KEY=worker-api-key") == 0 && strcmp(env[3], "RUNQY_VAULT_KEYS=") == 0);
  runqy_vault_env_free(env);

  /* No base: only the payload. */
  OK(runqy_vault_child_env("{\"vaults\":{\"K\":\"v\"}}", NULL, NULL, 0, &env, &n, &err));
  CHECK(n == 2 && strcmp(env[0], "K=v") == 0 && env[2] == NULL);
  runqy_vault_env_free(env);
  runqy_vault_env_free(NULL);

  /* Refused whole, naming the key. */
  env = (char **)1;
  EXPECT(runqy_vault_child_env("{\"vaults\":{\"OK\":\"x\",\"LD_PRELOAD\":\"/evil.so\"}}", base, NULL, 0, &env, &n, &err),
         RUNQY_VAULT_RESERVED_NAME, "LD_PRELOAD");
  CHECK(env == NULL && n == 0);
  EXPECT(runqy_vault_child_env("{\"vaults\":{\"bad-name\":\"x\"}}", base, NULL, 0, &env, &n, &err),
         RUNQY_VAULT_INVALID_NAME, "bad-name");
  EXPECT(runqy_vault_child_env("{\"vaults\":{\"NUL\":\"a\\u0000b\"}}", base, NULL, 0, &env, &n, &err),
         RUNQY_VAULT_INVALID_VALUE, "'NUL'");
  EXPECT(runqy_vault_child_env("{\"vaults\":{\"K\":true}}", base, NULL, 0, &env, &n, &err),
         RUNQY_VAULT_INVALID_ARGUMENT, "the value of key 'K' is a boolean");
  EXPECT(runqy_vault_child_env("not json", base, NULL, 0, &env, &n, &err), RUNQY_VAULT_INVALID_ARGUMENT,
         "not valid JSON");
  const char *no_equals[] = {"HOME=/h", "JUNK", NULL};
  EXPECT(runqy_vault_child_env("{}", no_equals, NULL, 0, &env, &n, &err), RUNQY_VAULT_INVALID_ARGUMENT,
         "base[1] has no '='");
  EXPECT(runqy_vault_child_env("{}", base, NULL, 1, &env, &n, &err), RUNQY_VAULT_INVALID_ARGUMENT,
         "keep is NULL");
  EXPECT(runqy_vault_child_env("{}", base, NULL, 0, NULL, &n, &err), RUNQY_VAULT_INVALID_ARGUMENT,
         "env_out is NULL");
  EXPECT(runqy_vault_child_env("{}", base, NULL, 0, &env, NULL, &err), RUNQY_VAULT_INVALID_ARGUMENT,
         "n_out is NULL");
}

int main(void) {
  snprintf(dir, sizeof dir, "%s/runqy-vault-c-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  CHECK(mkdtemp(dir) != NULL);
  clear_key_env();

  test_full_flow_create_set_get_show_list_resolve_payload_unset_delete();
  test_each_core_error_has_its_code_message_and_http_status();
  test_decryption_failed_names_vault_and_key();
  test_history_versions_cas_rollback_restore_purge_and_limit();
  test_two_handles_racing_set_cas_give_one_win_and_one_conflict();
  test_rolling_rotation_refuses_the_old_key_alone_after_a_write_under_the_new();
  test_store_without_key_opens_disabled_and_refuses_every_vault_call();
  test_in_memory_and_empty_paths_are_refused_and_no_token_is_echoed();
  test_the_master_key_printed_in_an_error_key_in_the_file_variable_is_not_echoed();
  test_rotate_key_moves_the_store_to_the_new_key();
  test_generate_key_mask_version_and_string_free_null();
  test_null_pointers_give_invalid_argument_naming_the_parameter();
  test_vault_lists_null_or_with_null_entries_are_refused();
  test_non_utf8_text_gives_invalid_argument();
  test_freed_and_foreign_handles_are_refused();
  test_panic_is_caught_at_the_boundary();
  test_one_handle_many_threads_sees_every_write();
  test_usage_and_check_json_read_queue_configurations();
  test_audit_log_actors_verify_prune_and_a_tampered_record();
  test_redactor_masks_values_and_their_forms_however_the_writes_are_cut();
  test_redactor_from_payload_masks_vaults_and_git_token();
  test_redactor_refuses_null_bad_and_freed_handles();
  test_child_env_of_a_worker_holding_the_master_key_and_api_key_passes_on_neither();

  remove_dir();
  printf("test_ffi: %d checks passed\n", checks);
  return 0;
}
