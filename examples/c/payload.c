/*
 * runqy-vault from C: create a vault, set two entries, show it (values
 * masked), and print the registration payload a server hands a worker.
 *
 * Build against the shared library (run with LD_LIBRARY_PATH=target/debug):
 *   cc -Wall -Wextra -Werror -Iinclude examples/c/payload.c -Ltarget/debug -lrunqy_vault_ffi -o target/payload-shared
 * or against the static library (no runtime dependency):
 *   cc -Wall -Wextra -Werror -Iinclude examples/c/payload.c target/debug/librunqy_vault_ffi.a -lpthread -ldl -lm -o target/payload-static
 *
 * Usage: payload DB_PATH   (the master key comes from RUNQY_VAULT_MASTER_KEY)
 */
#include <stdio.h>
#include <stdlib.h>

#include "runqy_vault.h"

/* Prints the failure, frees its message, and says whether the call failed. */
static int failed(const char *what, RunqyVaultResult rc, char *err) {
  if (rc == RUNQY_VAULT_OK) return 0;
  fprintf(stderr, "error: %s: %s (code %u, HTTP %u)\n", what, err ? err : "?",
          (unsigned)rc, (unsigned)runqy_vault_http_status(rc));
  runqy_vault_string_free(err);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DB_PATH\n", argv[0]);
    return 2;
  }
  RunqyVaultStore *store = NULL;
  char *err = NULL;
  char *json = NULL;
  int status = 1;

  /* NULL key: from the environment; without one the store opens disabled. */
  if (failed("open", runqy_vault_store_open(argv[1], NULL, &store, &err), err)) return 1;
  if (failed("create", runqy_vault_create(store, "model-credentials", "keys for the model APIs", &err), err)) goto out;
  if (failed("set", runqy_vault_set(store, "model-credentials", "OPENAI_API_KEY", "sk-proj-abc123xx", true, &err), err)) goto out;
  if (failed("set", runqy_vault_set(store, "model-credentials", "REGION", "eu-west-1", false, &err), err)) goto out;

  if (failed("show", runqy_vault_show_json(store, "model-credentials", &json, &err), err)) goto out;
  printf("show: %s\n", json);
  runqy_vault_string_free(json);

  const char *vaults[] = {"model-credentials"};
  if (failed("payload", runqy_vault_registration_payload(store, vaults, 1, NULL, &json, &err), err)) goto out;
  printf("payload: %s\n", json);
  runqy_vault_string_free(json); /* wipes the plaintext */
  status = 0;
out:
  runqy_vault_store_free(store);
  return status;
}
