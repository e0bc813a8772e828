package runqyvault

import (
	"fmt"
	"path/filepath"
	"testing"
)

// The package's calls as ordinary Go benchmarks (go test -bench .). The
// figures compared with Rust come from TestPaired (paired_bench_test.go),
// which times these calls next to the core's own, in one process.

// loop runs op b.N times.
func loop(b *testing.B, op func() error) {
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchStore is the comparison data set shared with benches/c/bench_ffi.c: 3 vaults x 20 entries, 32-byte values, keys overlapping across vaults.
func benchStore(b testing.TB) *Store {
	b.Helper()
	s, err := OpenWithKey(filepath.Join(b.TempDir(), "bench.db"), keyA)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	for v := 0; v < 3; v++ {
		vault := fmt.Sprintf("vault-%d", v)
		must(b, s.CreateVault(vault, ""))
		for k := 0; k < 20; k++ {
			must(b, s.Set(vault, fmt.Sprintf("KEY_%02d", k), fmt.Sprintf("value-%d-%02d-xxxxxxxxxxxxxxxxxxxx", v, k), true))
		}
	}
	// The read path alone, as in benches/c/bench_ffi.c: with audit-reads on each
	// payload also commits its record (runqy-vault/benches/audit.rs measures that).
	must(b, s.SetAuditReads(false))
	return s
}

func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	loop(b, func() error {
		_, err := s.Get("vault-1", "KEY_07")
		return err
	})
}

func BenchmarkRegistrationPayload(b *testing.B) {
	s := benchStore(b)
	vaults := []string{"vault-0", "vault-1", "vault-2"}
	loop(b, func() error {
		p, err := s.RegistrationPayload(vaults, "")
		if err == nil && len(p.Vaults) != 20 {
			err = fmt.Errorf("payload has %d keys, want 20", len(p.Vaults))
		}
		return err
	})
}

// The payload as raw JSON, without decoding it into Go values: the cost of
// the cgo call alone.
func BenchmarkRegistrationPayloadJSON(b *testing.B) {
	s := benchStore(b)
	vaults := []string{"vault-0", "vault-1", "vault-2"}
	loop(b, func() error {
		_, err := s.RegistrationPayloadJSON(vaults, "")
		return err
	})
}

// A call that does no work in the core: the fixed cost of a call from Go
// (cgo transition, handle lookup, panic boundary).
func BenchmarkStoreEnabled(b *testing.B) {
	s := benchStore(b)
	loop(b, func() error {
		_, err := s.Enabled()
		return err
	})
}
