//go:build runqyvault_paired

package runqyvault

// Loops for TestPaired (paired_bench_test.go): the same get and payload as
// bench_test.go, called from C through the C ABI, and run by the core itself
// in Rust (runqy_vault_bench_core_*, which exist only in a library built with
// the bench-hooks feature: benches/c/run.sh installs one, and its .pc defines
// RUNQY_VAULT_BENCH_HOOKS). Each is one cgo call for a whole batch. Built
// only with -tags runqyvault_paired.

/*
#include "runqy_vault.h"
#ifndef RUNQY_VAULT_BENCH_HOOKS
#error "-tags runqyvault_paired needs the library installed with bench hooks first on PKG_CONFIG_PATH: scripts/install-lib.sh PREFIX --features bench-hooks"
#endif
static const char *paired_vaults[] = {"vault-0", "vault-1", "vault-2"};
static int paired_c_get(const RunqyVaultStore *s, int n) {
	for (int i = 0; i < n; i++) {
		char *v = NULL;
		if (runqy_vault_get(s, "vault-1", "KEY_07", &v, NULL) != RUNQY_VAULT_OK) return 1;
		runqy_vault_string_free(v);
	}
	return 0;
}
static int paired_c_payload(const RunqyVaultStore *s, int n) {
	for (int i = 0; i < n; i++) {
		char *v = NULL;
		if (runqy_vault_registration_payload(s, paired_vaults, 3, NULL, &v, NULL) != RUNQY_VAULT_OK) return 1;
		runqy_vault_string_free(v);
	}
	return 0;
}
static int paired_rust_get(const RunqyVaultStore *s, int n) {
	return runqy_vault_bench_core_get(s, "vault-1", "KEY_07", (uint32_t)n, NULL) != RUNQY_VAULT_OK;
}
static int paired_rust_payload(const RunqyVaultStore *s, int n) {
	return runqy_vault_bench_core_registration_payload(s, paired_vaults, 3, (uint32_t)n, NULL) != RUNQY_VAULT_OK;
}
*/
import "C"

func pairedCGet(s *Store, n int) bool        { return C.paired_c_get(s.handle, C.int(n)) == 0 }
func pairedCPayload(s *Store, n int) bool    { return C.paired_c_payload(s.handle, C.int(n)) == 0 }
func pairedRustGet(s *Store, n int) bool     { return C.paired_rust_get(s.handle, C.int(n)) == 0 }
func pairedRustPayload(s *Store, n int) bool { return C.paired_rust_payload(s.handle, C.int(n)) == 0 }
