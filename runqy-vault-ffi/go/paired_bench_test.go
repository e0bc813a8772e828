//go:build runqyvault_paired

package runqyvault

import (
	"flag"
	"fmt"
	"slices"
	"testing"
	"time"
)

var pairs = flag.Int("pairs", 201, "TestPaired: timed triples per workload")

// TestPaired is the Go side of the C ABI's speed figures (benches/c/run.sh
// runs it). It times a batch of the Go method's calls next to the same batch
// made by the core itself in Rust and through the C ABI from C, all in this
// process, in rotating order, and prints the median of the per-triple ratios.
// The machine's speed drifts (see benches/c/bench_ffi.c); a ratio within one
// triple of ~1 ms batches is not moved by it, a ratio of figures taken
// seconds apart or in separate processes is.
//
//	scripts/install-lib.sh /tmp/rv-bench --features bench-hooks   # in the repository
//	PKG_CONFIG_PATH=/tmp/rv-bench/lib/pkgconfig go test -tags runqyvault_paired -run Paired -v . [-args -pairs N]
//
// Lines: "go <workload> N ns/op", "ratio go/rust <workload> R (...)" and
// "ratio go/c <workload> R (...)", the format of benches/c/bench_ffi.c.
func TestPaired(t *testing.T) {
	s := benchStore(t)
	vaults := []string{"vault-0", "vault-1", "vault-2"}
	n := max(*pairs, 1)
	triple := func(name string, batch int, rust, fromC func(*Store, int) bool, fromGo func() error) {
		goBatch := func(*Store, int) bool {
			for i := 0; i < batch; i++ {
				if err := fromGo(); err != nil {
					t.Fatal(name, err)
				}
			}
			return true
		}
		sides := []func(*Store, int) bool{rust, fromC, goBatch}
		ns := make([][]float64, 3) // per side, per triple
		for _, side := range sides {
			side(s, batch) // warm up
		}
		for p := 0; p < n; p++ {
			for i := range sides {
				k := (p + i) % 3 // rotate which side goes first
				t0 := time.Now()
				if !sides[k](s, batch) {
					t.Fatalf("%s: side %d failed", name, k)
				}
				ns[k] = append(ns[k], float64(time.Since(t0).Nanoseconds())/float64(batch))
			}
		}
		ratio := func(a, b []float64) string {
			r := make([]float64, len(a))
			for i := range a {
				r[i] = a[i] / b[i]
			}
			slices.Sort(r)
			return fmt.Sprintf("%.3f (quartiles %.3f-%.3f, %d triples of %d calls)", r[len(r)/2], r[len(r)/4], r[3*len(r)/4], len(r), batch)
		}
		goVsRust, goVsC := ratio(ns[2], ns[0]), ratio(ns[2], ns[1])
		for _, x := range ns {
			slices.Sort(x)
		}
		fmt.Printf("go   %-24s %10.0f ns/op\n", name, ns[2][n/2])
		fmt.Printf("ratio go/rust %-24s %s\n", name, goVsRust)
		fmt.Printf("ratio go/c %-24s %s\n", name, goVsC)
		fmt.Printf("# in this process: rust %.0f ns/op, c %.0f ns/op\n", ns[0][n/2], ns[1][n/2])
	}
	triple("Get", 200, pairedRustGet, pairedCGet, func() error {
		_, err := s.Get("vault-1", "KEY_07")
		return err
	})
	triple("RegistrationPayloadJSON", 50, pairedRustPayload, pairedCPayload, func() error {
		_, err := s.RegistrationPayloadJSON(vaults, "")
		return err
	})
}
