// Command upstream-go measures the model of the upstream runqy server's vault
// store (store.go) on the workloads of the comparison harness and prints one
// JSON document: {"peer", "meta", "results": [{workload, median_ns, ...}]}.
//
//	go run . [-quick] [-out FILE] [-budget 2s] [-only REGEX]
//
// -quick runs each workload once: it proves the model works; its times mean
// nothing. Workload ids match the criterion ids of runqy-vault/benches/core.rs.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"
)

type Result struct {
	Workload   string  `json:"workload"`
	MedianNs   float64 `json:"median_ns"`
	P10Ns      float64 `json:"p10_ns"`
	P90Ns      float64 `json:"p90_ns"`
	MinNs      float64 `json:"min_ns"`
	MaxNs      float64 `json:"max_ns"`
	Samples    int     `json:"samples"`
	Iterations int64   `json:"iterations"`
	Threads    int     `json:"threads,omitempty"`
	OpsPerSec  float64 `json:"ops_per_sec,omitempty"`
	Note       string  `json:"note,omitempty"`
}

var (
	quick   = flag.Bool("quick", false, "run each workload once (no timings)")
	outPath = flag.String("out", "", "write the JSON document here instead of standard output")
	budget  = flag.Duration("budget", 2*time.Second, "measuring time per fast workload")
	only    = flag.String("only", "", "run only workloads whose id matches this regular expression")
	journal = flag.String("journal", "wal", "SQLite journal mode: wal (same durability as runqy-vault) or delete (upstream's default)")
	workDir = flag.String("dir", "", "directory for the database files (default: a new temporary one)")
	importN = flag.Int("import-entries", 2000, "entries actually imported for store/import_20000; the time is scaled to 20,000 (20000 measures it whole, about a minute or more)")
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func randKey() []byte {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	must(err)
	return k
}

// secretValue is a realistic API token: 40 bytes of ASCII.
func secretValue(i int) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("sk-proj-%s%06d", hex.EncodeToString(b), i%1000000)[:40]
}

func summarize(name string, perOp []float64, iters int64) Result {
	s := append([]float64(nil), perOp...)
	sort.Float64s(s)
	q := func(p float64) float64 {
		if len(s) == 1 {
			return s[0]
		}
		pos := p * float64(len(s)-1)
		lo := int(math.Floor(pos))
		hi := int(math.Ceil(pos))
		return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
	}
	return Result{Workload: name, MedianNs: q(0.5), P10Ns: q(0.1), P90Ns: q(0.9),
		MinNs: s[0], MaxNs: s[len(s)-1], Samples: len(s), Iterations: iters}
}

// measure times op in batches: a warm-up estimates one op's cost, then about
// 30 samples fill the budget, each sample a batch timed as a whole.
func measure(name string, op func() error) Result {
	if *quick {
		t := time.Now()
		must(op())
		return summarize(name, []float64{float64(time.Since(t).Nanoseconds())}, 1)
	}
	var n int64
	start := time.Now()
	for time.Since(start) < 200*time.Millisecond || n < 2 {
		must(op())
		n++
	}
	per := float64(time.Since(start).Nanoseconds()) / float64(n)
	const samples = 30
	batch := int64(math.Max(1, float64(budget.Nanoseconds())/samples/per))
	var perOp []float64
	var iters int64
	for i := 0; i < samples; i++ {
		t := time.Now()
		for j := int64(0); j < batch; j++ {
			must(op())
		}
		perOp = append(perOp, float64(time.Since(t).Nanoseconds())/float64(batch))
		iters += batch
	}
	return summarize(name, perOp, iters)
}

// measureEach times `samples` single runs of op, each after an untimed setup.
func measureEach(name string, samples int, setup func() error, op func() error) Result {
	if *quick {
		samples = 1
	}
	var perOp []float64
	for i := 0; i < samples; i++ {
		if setup != nil {
			must(setup())
		}
		t := time.Now()
		must(op())
		perOp = append(perOp, float64(time.Since(t).Nanoseconds()))
	}
	return summarize(name, perOp, int64(samples))
}

// measureParallel runs op from `threads` goroutines at once; each sample is
// the wall time of threads×batch ops divided by their number, so the median
// is nanoseconds per op of throughput (1e9/median = ops per second).
func measureParallel(name string, threads int, op func() error) Result {
	samples, batch := 20, 1
	if !*quick {
		t := time.Now()
		for time.Since(t) < 200*time.Millisecond {
			must(op())
			batch++
		}
		batch = int(math.Max(1, float64(batch)*float64(budget.Nanoseconds())/float64(samples)/float64(time.Since(t).Nanoseconds())))
	} else {
		samples = 1
	}
	var perOp []float64
	for i := 0; i < samples; i++ {
		var wg sync.WaitGroup
		errs := make(chan error, threads)
		t := time.Now()
		for g := 0; g < threads; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < batch; j++ {
					if err := op(); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		el := time.Since(t)
		select {
		case err := <-errs:
			must(err)
		default:
		}
		perOp = append(perOp, float64(el.Nanoseconds())/float64(threads*batch))
	}
	r := summarize(name, perOp, int64(samples*threads*batch))
	r.Threads = threads
	r.OpsPerSec = 1e9 / r.MedianNs
	return r
}

// payloadStore fills s with the 3 vaults × 20 entries of the payload
// workloads; half of each vault's keys also appear in the next, so the merge
// has later-wins work to do. Returns the vault names in payload order.
func payloadStore(ctx context.Context, s *Store) []string {
	names := []string{"payload-a", "payload-b", "payload-c"}
	for v, name := range names {
		must(s.CreateVault(ctx, name, "payload bench"))
		for i := 0; i < 20; i++ {
			must(s.SetEntry(ctx, name, fmt.Sprintf("KEY_%02d", v*10+i), secretValue(i), true))
		}
	}
	return names
}

// bigStore adds `vaults` vaults × `entries` entries in one transaction
// (setup, not measured), generated inside SQLite by two INSERT … SELECT over a
// counter; every filler row holds the same valid ciphertext.
func bigStore(ctx context.Context, s *Store, vaults, entries int) {
	blob, err := s.enc.EncryptString(secretValue(0))
	must(err)
	now := time.Now()
	// A big page cache on the one connection that loads keeps index
	// maintenance in memory; setup time is not measured.
	conn, err := s.db.Conn(ctx)
	must(err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "PRAGMA cache_size = -524288")
	must(err)
	tx, err := conn.BeginTx(ctx, nil)
	must(err)
	_, err = tx.Exec(`WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM c WHERE n < ?)
		INSERT INTO vaults (name, description, created_at, updated_at)
		SELECT printf('filler-%05d', n), '', ?, ? FROM c`, vaults-1, now, now)
	must(err)
	_, err = tx.Exec(`WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM c WHERE n < ?)
		INSERT INTO vault_entries (vault_id, key, value, is_secret, created_at, updated_at)
		SELECT v.id, printf('FILLER_%03d', c.n), ?, 1, ?, ? FROM vaults v, c
		WHERE v.name LIKE 'filler-%' ORDER BY v.id, c.n`, entries-1, blob, now, now)
	must(err)
	must(tx.Commit())
	_, err = conn.ExecContext(ctx, "PRAGMA cache_size = -2000")
	must(err)
}

func main() {
	flag.Parse()
	runtime.GC()
	filter := regexp.MustCompile(*only)
	ctx := context.Background()
	dir := *workDir
	if dir == "" {
		d, err := os.MkdirTemp("", "upstream-go-bench-")
		must(err)
		defer os.RemoveAll(d)
		dir = d
	}
	dbN := 0
	open := func() *Store {
		dbN++
		s, err := OpenStore(filepath.Join(dir, fmt.Sprintf("bench-%d.db", dbN)), randKey(), *journal)
		must(err)
		return s
	}
	var results []Result
	run := func(name string, f func() Result) {
		if !filter.MatchString(name) {
			return
		}
		fmt.Fprintf(os.Stderr, "upstream-go: %s ...", name)
		t := time.Now()
		r := f()
		fmt.Fprintf(os.Stderr, " median %.0f ns (%d iterations, %.1fs)\n", r.MedianNs, r.Iterations, time.Since(t).Seconds())
		results = append(results, r)
	}

	// --- cipher: upstream's Encryptor, a new AES + GCM per call ---
	// The sizes of the harness's cipher table: a token, a small file, a
	// certificate or kubeconfig, a big service-account bundle. Upstream has one
	// format (nonce ‖ ct ‖ tag, no associated data); the harness compares both
	// of runqy-vault's formats with it.
	enc := newEncryptor(randKey())
	for _, size := range []struct {
		name string
		n    int
	}{{"64B", 64}, {"1KiB", 1024}, {"16KiB", 16 * 1024}, {"64KiB", 64 * 1024}} {
		pt := make([]byte, size.n)
		_, _ = rand.Read(pt)
		blob, err := enc.Encrypt(pt)
		must(err)
		run("cipher/encrypt_"+size.name, func() Result {
			return measure("cipher/encrypt_"+size.name, func() error { _, err := enc.Encrypt(pt); return err })
		})
		run("cipher/decrypt_"+size.name, func() Result {
			return measure("cipher/decrypt_"+size.name, func() error { _, err := enc.Decrypt(blob); return err })
		})
	}

	// --- single-entry operations on a small store ---
	s := open()
	must(s.CreateVault(ctx, "bench", "single-entry operations"))
	for i := 0; i < 100; i++ {
		must(s.SetEntry(ctx, "bench", fmt.Sprintf("KEY_%03d", i), secretValue(i), true))
	}
	var setN int
	run("store/set", func() Result {
		r := measure("store/set", func() error {
			setN++
			return s.SetEntry(ctx, "bench", fmt.Sprintf("KEY_%03d", setN%100), secretValue(setN), true)
		})
		r.Note = fmt.Sprintf("update of an existing key; journal_mode=%s, synchronous=FULL", *journal)
		return r
	})
	run("store/get", func() Result {
		return measure("store/get", func() error { _, err := s.GetEntry(ctx, "bench", "KEY_042"); return err })
	})
	must(s.CreateVault(ctx, "show50", "fifty entries"))
	for i := 0; i < 50; i++ {
		must(s.SetEntry(ctx, "show50", fmt.Sprintf("KEY_%02d", i), secretValue(i), i%5 != 0))
	}
	run("store/show_50", func() Result {
		return measure("store/show_50", func() error { _, err := s.GetVaultDetail(ctx, "show50"); return err })
	})
	names := payloadStore(ctx, s)
	payload := func() error { _, err := s.RegistrationPayload(ctx, names); return err }
	run("store/payload_3x20", func() Result { return measure("store/payload_3x20", payload) })
	for _, threads := range []int{1, 2} {
		id := fmt.Sprintf("store/payload_3x20_threads_%d", threads)
		run(id, func() Result { return measureParallel(id, threads, payload) })
	}
	must(s.Close())

	// --- import and rotation of 20,000 entries ---
	bulk := 20000
	if *quick {
		bulk = 200 // the shape, not the size
	}
	keys := make([]string, bulk)
	values := make([]string, bulk)
	for i := range keys {
		keys[i] = fmt.Sprintf("KEY_%05d", i)
		values[i] = secretValue(i)
	}
	// Upstream's import is one SetEntry per entry, each on its own: the cost
	// per entry does not depend on how many came before, so by default 2,000
	// are imported and the time scaled to 20,000 (-import-entries 20000 for
	// the whole; it takes a minute or two here).
	run("store/import_20000", func() Result {
		n := *importN
		if *quick {
			n = 200
		}
		si := open()
		defer si.Close()
		vn := 0
		r := measureEach("store/import_20000", 1, func() error {
			vn++
			return si.CreateVault(ctx, fmt.Sprintf("import-%d", vn), "")
		}, func() error {
			return si.ImportEntries(ctx, fmt.Sprintf("import-%d", vn), keys[:n], values[:n])
		})
		scale := 20000 / float64(n)
		for _, p := range []*float64{&r.MedianNs, &r.P10Ns, &r.P90Ns, &r.MinNs, &r.MaxNs} {
			*p *= scale
		}
		r.Note = fmt.Sprintf("%d entries imported, time ×%.0f; upstream has no import: one SetEntry per entry, no transaction (2 commits each)", n, scale)
		return r
	})
	run("store/rotate_20000", func() Result {
		sr := open()
		defer sr.Close()
		// 20 vaults × bulk/20 entries, written in one transaction (setup).
		tx, err := sr.db.Begin()
		must(err)
		now := time.Now()
		for v := 0; v < 20; v++ {
			res, err := tx.Exec(`INSERT INTO vaults (name, description, created_at, updated_at) VALUES (?, '', ?, ?)`,
				fmt.Sprintf("rotate-%02d", v), now, now)
			must(err)
			id, _ := res.LastInsertId()
			for e := 0; e < bulk/20; e++ {
				blob, err := sr.enc.EncryptString(values[v*(bulk/20)+e])
				must(err)
				_, err = tx.Exec(`INSERT INTO vault_entries (vault_id, key, value, is_secret, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)`,
					id, keys[e], blob, now, now)
				must(err)
			}
		}
		must(tx.Commit())
		r := measureEach("store/rotate_20000", 5, nil, func() error { return sr.RotateKey(ctx, randKey()) })
		r.Note = fmt.Sprintf("%d entries; upstream has no rotation: read all, decrypt, re-encrypt, UPDATE each row in one transaction", bulk)
		return r
	})

	// --- registration payload on a store of 10,000 vaults × 100 entries ---
	run("store/payload_3x20_big_store", func() Result {
		sb := open()
		defer sb.Close()
		nv, ne := 10000, 100
		if *quick {
			nv, ne = 100, 10 // the shape, not the size: quick mode proves it runs
		}
		t := time.Now()
		bigStore(ctx, sb, nv, ne)
		fmt.Fprintf(os.Stderr, " [setup %d×%d in %.1fs]", nv, ne, time.Since(t).Seconds())
		bnames := payloadStore(ctx, sb)
		r := measure("store/payload_3x20_big_store", func() error { _, err := sb.RegistrationPayload(ctx, bnames); return err })
		r.Note = fmt.Sprintf("store of %d vaults × %d entries plus the 3 × 20", nv, ne)
		return r
	})

	doc := map[string]any{
		"peer": "upstream-go",
		"meta": map[string]any{
			"go":           runtime.Version(),
			"sqlite":       modVersion("modernc.org/sqlite"),
			"journal_mode": *journal,
			"synchronous":  "FULL",
			"gomaxprocs":   runtime.GOMAXPROCS(0),
			"quick":        *quick,
			"time":         time.Now().UTC().Format(time.RFC3339),
		},
		"results": results,
	}
	out := os.Stdout
	if *outPath != "" {
		f, err := os.Create(*outPath)
		must(err)
		defer f.Close()
		out = f
	}
	enc2 := json.NewEncoder(out)
	enc2.SetIndent("", "  ")
	must(enc2.Encode(doc))
}

func modVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "unknown"
}
