package runqyvault

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func versionsOf(t *testing.T, h []HistoryEntry) []string {
	t.Helper()
	var out []string
	for _, e := range h {
		v := "-"
		if e.Version != nil {
			v = strconv.FormatInt(*e.Version, 10)
		}
		out = append(out, v+" "+e.Value+" "+e.State)
	}
	return out
}

func TestHistoryRollbackRestorePurgeThroughCgo(t *testing.T) {
	s := openA(t, "history.db")
	must(t, s.CreateVault("ci", ""))
	must(t, s.Set("ci", "TOKEN", "ghp_first_value", true))
	must(t, s.Set("ci", "TOKEN", "ghp_second_value", true))

	h, err := s.History("ci", "TOKEN")
	must(t, err)
	if got, want := strings.Join(versionsOf(t, h), "|"), "2 gh****ue current|1 gh****ue replaced"; got != want {
		t.Fatalf("history %q, want %q", got, want)
	}
	if h[0].Actor == nil || *h[0].Actor == "" || !h[0].IsSecret || len(h[0].CreatedAt) != 20 {
		t.Errorf("history entry %+v", h[0])
	}
	v, err := s.GetVersion("ci", "TOKEN", 1)
	must(t, err)
	if v != "ghp_first_value" {
		t.Errorf("GetVersion 1 = %q", v)
	}
	_, err = s.GetVersion("ci", "TOKEN", 0)
	if !errors.Is(err, ErrVersionNotFound) || HTTPStatus(err) != 404 ||
		!strings.Contains(err.Error(), "version 0 of key 'TOKEN' in vault 'ci' not found: versions count from 1") {
		t.Errorf("GetVersion 0: %v (HTTP %d)", err, HTTPStatus(err))
	}

	n, err := s.SetCAS("ci", "TOKEN", "lost", true, 1)
	if !errors.Is(err, ErrVersionConflict) || HTTPStatus(err) != 409 || n != 0 ||
		!strings.Contains(err.Error(), "the current version is 2") {
		t.Errorf("SetCAS 1: %d, %v", n, err)
	}
	n, err = s.SetCAS("ci", "TOKEN", "ghp_third_value", true, 2)
	must(t, err)
	if n != 3 {
		t.Errorf("SetCAS 2 made version %d", n)
	}
	if _, err := s.SetCAS("ci", "TOKEN", "a\x00b", true, 3); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("SetCAS with a NUL: %v", err)
	}

	n, err = s.Rollback("ci", "TOKEN", 1)
	must(t, err)
	if n != 4 {
		t.Errorf("Rollback made version %d", n)
	}
	if v, _ := s.Get("ci", "TOKEN"); v != "ghp_first_value" {
		t.Errorf("after Rollback: %q", v)
	}
	must(t, s.Unset("ci", "TOKEN"))
	if _, err := s.Rollback("ci", "TOKEN", 2); !errors.Is(err, ErrEntryNotFound) || !strings.Contains(err.Error(), "it was removed") {
		t.Errorf("Rollback of a removed entry: %v", err)
	}
	n, err = s.Restore("ci", "TOKEN")
	must(t, err)
	if n != 5 {
		t.Errorf("Restore made version %d", n)
	}
	if _, err := s.Restore("ci", "TOKEN"); !errors.Is(err, ErrVersionConflict) {
		t.Errorf("Restore of a current entry: %v", err)
	}

	limit, err := s.HistoryLimit()
	must(t, err)
	if limit != 10 {
		t.Errorf("HistoryLimit = %d", limit)
	}
	pruned, err := s.SetHistoryLimit(2)
	must(t, err)
	if pruned != 3 {
		t.Errorf("SetHistoryLimit(2) pruned %d", pruned)
	}
	if _, err := s.SetHistoryLimit(0); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("SetHistoryLimit(0): %v", err)
	}

	report, err := s.Purge("ci", "TOKEN")
	must(t, err)
	if report.Versions != 2 || report.Entries != 1 || report.VaultDeleted || report.Warnings != nil {
		t.Errorf("Purge: %+v", report)
	}
	if _, err := s.History("ci", "TOKEN"); !errors.Is(err, ErrEntryNotFound) {
		t.Errorf("History after Purge: %v", err)
	}
	report, err = s.PurgeVault("ci")
	must(t, err)
	if !report.VaultDeleted || report.Versions != 0 {
		t.Errorf("PurgeVault: %+v", report)
	}
	if _, err := s.PurgeVault("ci"); !errors.Is(err, ErrVaultNotFound) {
		t.Errorf("PurgeVault of nothing: %v", err)
	}
	s.Close()
	if _, err := s.History("ci", "TOKEN"); err != ErrClosed {
		t.Errorf("History after Close: %v", err)
	}
}

func TestTwoStoresRacingSetCASGiveOneWinAndOneConflict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "race.db")
	a, err := OpenWithKey(path, keyA)
	must(t, err)
	defer a.Close()
	b, err := OpenWithKey(path, keyA)
	must(t, err)
	defer b.Close()
	must(t, a.CreateVault("ci", ""))
	must(t, a.Set("ci", "TOKEN", "start", true))
	for round := int64(1); round <= 10; round++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, s := range []*Store{a, b} {
			wg.Add(1)
			go func(i int, s *Store) {
				defer wg.Done()
				<-start
				_, errs[i] = s.SetCAS("ci", "TOKEN", "racer", true, round)
			}(i, s)
		}
		close(start)
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: %v, %v", round, errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil && !errors.Is(err, ErrVersionConflict) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
