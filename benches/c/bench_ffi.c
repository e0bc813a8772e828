/*
 * Cost of a call through the C ABI, from C: runqy_vault_get and
 * runqy_vault_registration_payload (3 vaults x 20 entries), median ns/op of
 * 7 rounds, in wall-clock time and in process CPU time (steadier on a busy
 * machine: time spent descheduled is not counted). The same data set and method as runqy-vault-ffi/examples/bench_rust.rs
 * (the core called from Rust) and examples/go's BenchmarkGet and
 * BenchmarkRegistrationPayload (cgo). StoreEnabled does no work in the core:
 * it is the fixed cost the ABI adds to every call. Build and run: see docs/c-abi.md.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runqy_vault.h"

#define ROUNDS 7

static const char *KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

static void ok(RunqyVaultResult rc, char *err, const char *what) {
  if (rc != RUNQY_VAULT_OK) {
    fprintf(stderr, "%s failed: %s\n", what, err ? err : "?");
    exit(1);
  }
}

static double now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static RunqyVaultStore *store;
static const char *vaults[] = {"vault-0", "vault-1", "vault-2"};

static void one_get(void) {
  char *value = NULL, *err = NULL;
  ok(runqy_vault_get(store, "vault-1", "KEY_07", &value, &err), err, "get");
  runqy_vault_string_free(value);
}

static void one_payload(void) {
  char *json = NULL, *err = NULL;
  ok(runqy_vault_registration_payload(store, vaults, 3, NULL, &json, &err), err, "payload");
  runqy_vault_string_free(json);
}

/* The fixed cost of any call: handle lookup, panic boundary, out pointers. */
static void one_enabled(void) {
  bool enabled = false;
  char *err = NULL;
  ok(runqy_vault_store_enabled(store, &enabled, &err), err, "enabled");
}

static void measure(const char *name, void (*op)(void), int iterations) {
  double wall[ROUNDS], cpu[ROUNDS];
  for (int i = 0; i < iterations / 10; i++) op(); /* warm up */
  for (int r = 0; r < ROUNDS; r++) {
    double wall0 = now_ns(CLOCK_MONOTONIC), cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < iterations; i++) op();
    cpu[r] = (now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / iterations;
    wall[r] = (now_ns(CLOCK_MONOTONIC) - wall0) / iterations;
  }
  qsort(wall, ROUNDS, sizeof wall[0], cmp_double);
  qsort(cpu, ROUNDS, sizeof cpu[0], cmp_double);
  printf("c    %-24s %10.0f ns/op %10.0f cpu-ns/op\n", name, wall[ROUNDS / 2], cpu[ROUNDS / 2]);
}

int main(int argc, char **argv) {
  int iterations = argc > 1 ? atoi(argv[1]) : 20000;
  char dir[] = "/tmp/runqy-vault-bench-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[128];
  snprintf(path, sizeof path, "%s/bench.db", dir);
  char *err = NULL;
  ok(runqy_vault_store_open(path, KEY, &store, &err), err, "open");
  for (int v = 0; v < 3; v++) {
    ok(runqy_vault_create(store, vaults[v], NULL, &err), err, "create");
    for (int k = 0; k < 20; k++) {
      char key[16], value[64];
      snprintf(key, sizeof key, "KEY_%02d", k);
      snprintf(value, sizeof value, "value-%d-%02d-xxxxxxxxxxxxxxxxxxxx", v, k);
      ok(runqy_vault_set(store, vaults[v], key, value, true, &err), err, "set");
    }
  }
  measure("Get", one_get, iterations);
  measure("RegistrationPayload", one_payload, iterations / 4);
  measure("StoreEnabled", one_enabled, iterations * 10);
  runqy_vault_store_free(store);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : 1;
}
