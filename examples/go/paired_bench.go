//go:build runqyvault_paired

package runqyvault

// C loops over the C ABI, for TestPairedWithC (paired_bench_test.go): the
// same get and payload as bench_test.go, called from C inside one cgo call.
// Built only with -tags runqyvault_paired.

/*
#include "runqy_vault.h"
static const char *paired_vaults[] = {"vault-0", "vault-1", "vault-2"};
static int paired_get(const RunqyVaultStore *s, int n) {
	for (int i = 0; i < n; i++) {
		char *v = NULL;
		if (runqy_vault_get(s, "vault-1", "KEY_07", &v, NULL) != RUNQY_VAULT_OK) return 1;
		runqy_vault_string_free(v);
	}
	return 0;
}
static int paired_payload(const RunqyVaultStore *s, int n) {
	for (int i = 0; i < n; i++) {
		char *v = NULL;
		if (runqy_vault_registration_payload(s, paired_vaults, 3, NULL, &v, NULL) != RUNQY_VAULT_OK) return 1;
		runqy_vault_string_free(v);
	}
	return 0;
}
*/
import "C"

func pairedGetFromC(s *Store, n int) bool     { return C.paired_get(s.handle, C.int(n)) == 0 }
func pairedPayloadFromC(s *Store, n int) bool { return C.paired_payload(s.handle, C.int(n)) == 0 }
