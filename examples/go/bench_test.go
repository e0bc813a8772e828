package runqyvault

import (
	"fmt"
	"path/filepath"
	"testing"
)

// benchStore is the comparison data set shared with benches/c and the Rust
// loop: 3 vaults x 20 entries, 32-byte values, keys overlapping across vaults.
func benchStore(b *testing.B) *Store {
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
	return s
}

func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Get("vault-1", "KEY_07"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRegistrationPayload(b *testing.B) {
	s := benchStore(b)
	vaults := []string{"vault-0", "vault-1", "vault-2"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := s.RegistrationPayload(vaults, "")
		if err != nil || len(p.Vaults) != 20 {
			b.Fatal(err)
		}
	}
}

// The payload as raw JSON, without decoding it into Go values: the cost of
// the cgo call alone.
func BenchmarkRegistrationPayloadJSON(b *testing.B) {
	s := benchStore(b)
	vaults := []string{"vault-0", "vault-1", "vault-2"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.RegistrationPayloadJSON(vaults, ""); err != nil {
			b.Fatal(err)
		}
	}
}
