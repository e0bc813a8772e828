/*
 * Cost of a call through the C ABI, from C, against the same call made by
 * the core in Rust, in the same process: runqy_vault_get and
 * runqy_vault_registration_payload (3 vaults x 20 entries, the JSON string
 * the caller receives).
 *
 * The machine's speed drifts (on this VM a get takes ~4.3 us for a while,
 * then ~6.5 us), so timings from separate processes or minutes apart cannot
 * be divided. Here each pair times a short batch of the core's own call,
 * looped in Rust (runqy_vault_bench_core_*, the library's bench-hooks
 * feature), next to the same batch through the C ABI, in alternating order;
 * the figure is the median of the per-pair ratios, which the drift hits on
 * both sides alike. StoreEnabled does no work in the core: it is the fixed
 * cost the ABI adds to every call. Build and run: benches/c/run.sh.
 *
 *   bench_ffi [PAIRS]     (default 201)
 *
 * Lines: "rust|c <workload> N ns/op" (medians of the batches) and
 * "ratio c/rust <workload> R (quartiles Q1-Q3, P pairs of B calls)".
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runqy_vault.h"
/* Defined by the runqy_vault.pc of a library built with the hooks. */
#ifndef RUNQY_VAULT_BENCH_HOOKS
#error "needs the library installed with bench hooks: scripts/install-lib.sh PREFIX --features bench-hooks (benches/c/run.sh does)"
#endif

#define MAX_PAIRS 1001

static const char *KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

static void ok(RunqyVaultResult rc, char *err, const char *what) {
  if (rc != RUNQY_VAULT_OK) {
    fprintf(stderr, "%s failed: %s\n", what, err ? err : "?");
    exit(1);
  }
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static RunqyVaultStore *store;
static const char *vaults[] = {"vault-0", "vault-1", "vault-2"};

/* Batches of n calls: through the C ABI, and the core's own call in Rust. */

static void c_get(int n) {
  for (int i = 0; i < n; i++) {
    char *value = NULL, *err = NULL;
    ok(runqy_vault_get(store, "vault-1", "KEY_07", &value, &err), err, "get");
    runqy_vault_string_free(value);
  }
}

static void rust_get(int n) {
  char *err = NULL;
  ok(runqy_vault_bench_core_get(store, "vault-1", "KEY_07", (uint32_t)n, &err), err, "core get");
}

static void c_payload(int n) {
  for (int i = 0; i < n; i++) {
    char *json = NULL, *err = NULL;
    ok(runqy_vault_registration_payload(store, vaults, 3, NULL, &json, &err), err, "payload");
    runqy_vault_string_free(json);
  }
}

static void rust_payload(int n) {
  char *err = NULL;
  ok(runqy_vault_bench_core_registration_payload(store, vaults, 3, (uint32_t)n, &err), err, "core payload");
}

/* The fixed cost of any call: handle lookup, panic boundary, out pointers. */
static void c_enabled(int n) {
  for (int i = 0; i < n; i++) {
    bool enabled = false;
    char *err = NULL;
    ok(runqy_vault_store_enabled(store, &enabled, &err), err, "enabled");
  }
}

static double time_batch(void (*batch)(int), int n) {
  double t0 = now_ns();
  batch(n);
  return (now_ns() - t0) / n;
}

static void compare(const char *name, void (*c_batch)(int), void (*rust_batch)(int), int batch, int pairs) {
  static double c_ns[MAX_PAIRS], rust_ns[MAX_PAIRS], ratio[MAX_PAIRS];
  c_batch(batch); /* warm up both */
  rust_batch(batch);
  for (int p = 0; p < pairs; p++) {
    /* Alternate which side goes first, so neither always runs warmer. */
    if (p % 2 == 0) {
      rust_ns[p] = time_batch(rust_batch, batch);
      c_ns[p] = time_batch(c_batch, batch);
    } else {
      c_ns[p] = time_batch(c_batch, batch);
      rust_ns[p] = time_batch(rust_batch, batch);
    }
    ratio[p] = c_ns[p] / rust_ns[p];
  }
  qsort(c_ns, (size_t)pairs, sizeof c_ns[0], cmp_double);
  qsort(rust_ns, (size_t)pairs, sizeof rust_ns[0], cmp_double);
  qsort(ratio, (size_t)pairs, sizeof ratio[0], cmp_double);
  printf("rust %-24s %10.0f ns/op\n", name, rust_ns[pairs / 2]);
  printf("c    %-24s %10.0f ns/op\n", name, c_ns[pairs / 2]);
  printf("ratio c/rust %-24s %.3f (quartiles %.3f-%.3f, %d pairs of %d calls)\n", name, ratio[pairs / 2],
         ratio[pairs / 4], ratio[3 * pairs / 4], pairs, batch);
}

int main(int argc, char **argv) {
  int pairs = argc > 1 ? atoi(argv[1]) : 201;
  if (pairs < 1 || pairs > MAX_PAIRS) {
    fprintf(stderr, "usage: bench_ffi [PAIRS]   (1 to %d)\n", MAX_PAIRS);
    return 2;
  }
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
  /* The read path alone, as issue 18's read targets are set: with audit-reads
   * on each payload also commits its record (runqy-vault/benches/audit.rs
   * measures that). */
  ok(runqy_vault_set_audit_reads(store, false, &err), err, "audit-reads off");
  /* Batches of about a millisecond: short next to the machine's drift. */
  compare("Get", c_get, rust_get, 200, pairs);
  compare("RegistrationPayload", c_payload, rust_payload, 50, pairs);
  double enabled[MAX_PAIRS];
  for (int p = 0; p < pairs; p++) enabled[p] = time_batch(c_enabled, 2000);
  qsort(enabled, (size_t)pairs, sizeof enabled[0], cmp_double);
  printf("c    %-24s %10.1f ns/op\n", "StoreEnabled", enabled[pairs / 2]);
  runqy_vault_store_free(store);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : 1;
}
