//go:build runqyvault_paired

package runqyvault

import (
	"slices"
	"testing"
	"time"
)

// TestPairedWithC times the Go methods against the same calls made from C in
// the same process, alternating short batches, and logs the median of the
// per-pair ratios: a machine's load swings hit both sides of a pair alike,
// which separate processes (benches/c/run.sh) cannot promise.
//
//	go test -tags 'runqyvault_release runqyvault_paired' -run PairedWithC -v .
func TestPairedWithC(t *testing.T) {
	s := benchStore(t)
	vaults := []string{"vault-0", "vault-1", "vault-2"}
	pair := func(name string, n int, fromC func(int) bool, fromGo func() error) {
		const pairs = 31
		var ratio, cNs, goNs [pairs]float64
		fromC(n)
		for p := range ratio {
			t0 := time.Now()
			if !fromC(n) {
				t.Fatal(name, ": the C loop failed")
			}
			tc := time.Since(t0)
			t0 = time.Now()
			for i := 0; i < n; i++ {
				if err := fromGo(); err != nil {
					t.Fatal(name, err)
				}
			}
			tg := time.Since(t0)
			ratio[p], cNs[p], goNs[p] = float64(tg)/float64(tc), float64(tc.Nanoseconds())/float64(n), float64(tg.Nanoseconds())/float64(n)
		}
		slices.Sort(ratio[:])
		slices.Sort(cNs[:])
		slices.Sort(goNs[:])
		t.Logf("%-24s C %8.0f ns/op  Go %8.0f ns/op  Go/C %.3f (quartiles %.3f-%.3f)",
			name, cNs[pairs/2], goNs[pairs/2], ratio[pairs/2], ratio[pairs/4], ratio[3*pairs/4])
	}
	pair("Get", 500, func(n int) bool { return pairedGetFromC(s, n) }, func() error {
		_, err := s.Get("vault-1", "KEY_07")
		return err
	})
	pair("RegistrationPayloadJSON", 50, func(n int) bool { return pairedPayloadFromC(s, n) }, func() error {
		_, err := s.RegistrationPayloadJSON(vaults, "")
		return err
	})
	pair("RegistrationPayload", 50, func(n int) bool { return pairedPayloadFromC(s, n) }, func() error {
		_, err := s.RegistrationPayload(vaults, "")
		return err
	})
}
