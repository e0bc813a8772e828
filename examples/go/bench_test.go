package runqyvault

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
)

// cpuNs is the process's CPU time so far (user + system), in ns.
func cpuNs() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs op b.N times and reports, beside Go's wall-clock ns/op, the
// process CPU time per op (steadier on a busy machine; it includes Go's own
// threads, such as the garbage collector, which are part of the cost).
func measure(b *testing.B, op func() error) {
	b.ResetTimer()
	cpu0 := cpuNs()
	for i := 0; i < b.N; i++ {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuNs()-cpu0)/float64(b.N), "cpu-ns/op")
}

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
	measure(b, func() error {
		_, err := s.Get("vault-1", "KEY_07")
		return err
	})
}

func BenchmarkRegistrationPayload(b *testing.B) {
	s := benchStore(b)
	vaults := []string{"vault-0", "vault-1", "vault-2"}
	measure(b, func() error {
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
	measure(b, func() error {
		_, err := s.RegistrationPayloadJSON(vaults, "")
		return err
	})
}

// A call that does no work in the core: the fixed cost of a call from Go
// (cgo transition, handle lookup, panic boundary).
func BenchmarkStoreEnabled(b *testing.B) {
	s := benchStore(b)
	measure(b, func() error {
		_, err := s.Enabled()
		return err
	})
}
