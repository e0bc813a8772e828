package runqyvault

import (
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// cpuNs is the process's CPU time so far (user + system), in ns.
func cpuNs() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano() + ru.Stime.Nano())
}

// rounds is the number of timed rounds, as in benches/c/bench_ffi.c and
// runqy-vault-ffi/examples/bench_rust.rs.
const rounds = 7

// measure runs op the way bench_ffi.c and bench_rust.rs do, so the three
// figures compare: perRound/10 calls to warm up, then rounds rounds of
// perRound calls each; ns/op is the median round's wall-clock time per call
// (it replaces Go's mean over all calls) and cpu-ns/op the median round's
// process CPU time per call (steadier on a busy machine; it includes Go's own
// threads, such as the garbage collector, which are part of the cost).
// benches/c/run.sh passes the same iteration count to all three
// (-test.benchtime Nx here). B/op and allocs/op, if asked for, are over all
// rounds and so rounds times too high.
func measure(b *testing.B, perRound int, op func() error) {
	run := func(n int) {
		for i := 0; i < n; i++ {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
	}
	perRound = max(perRound, 1)
	run(perRound / 10)
	b.ResetTimer()
	var wall, cpu [rounds]float64
	for r := range wall {
		t0, cpu0 := time.Now(), cpuNs()
		run(perRound)
		cpu[r] = (cpuNs() - cpu0) / float64(perRound)
		wall[r] = float64(time.Since(t0).Nanoseconds()) / float64(perRound)
	}
	slices.Sort(wall[:])
	slices.Sort(cpu[:])
	b.ReportMetric(wall[rounds/2], "ns/op")
	b.ReportMetric(cpu[rounds/2], "cpu-ns/op")
}

// benchStore is the comparison data set shared with benches/c and the Rust
// loop: 3 vaults x 20 entries, 32-byte values, keys overlapping across vaults.
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
	return s
}

func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	measure(b, b.N, func() error {
		_, err := s.Get("vault-1", "KEY_07")
		return err
	})
}

func BenchmarkRegistrationPayload(b *testing.B) {
	s := benchStore(b)
	vaults := []string{"vault-0", "vault-1", "vault-2"}
	measure(b, b.N/4, func() error {
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
	measure(b, b.N/4, func() error {
		_, err := s.RegistrationPayloadJSON(vaults, "")
		return err
	})
}

// A call that does no work in the core: the fixed cost of a call from Go
// (cgo transition, handle lookup, panic boundary).
func BenchmarkStoreEnabled(b *testing.B) {
	s := benchStore(b)
	measure(b, b.N*10, func() error {
		_, err := s.Enabled()
		return err
	})
}
