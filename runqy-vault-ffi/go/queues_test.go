package runqyvault

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestUsageAndCheckReadQueueConfigurations(t *testing.T) {
	t.Setenv("QUEUE_WORKERS_DIR", "")
	s := openA(t, "queues.db")
	must(t, s.CreateVault("api-keys", ""))
	must(t, s.CreateVault("github", ""))
	must(t, s.CreateVault("old", ""))
	must(t, s.Set("api-keys", "K", "v", true))
	yaml := filepath.Join(t.TempDir(), "queues.yaml")
	must(t, os.WriteFile(yaml, []byte("queues:\n  inference:\n    deployment:\n      vaults: [api-keys, gone]\n      git_token: vault://github/GIT_TOKEN\n"), 0o600))

	usage, err := s.Usage([]string{yaml})
	must(t, err)
	want := &Usage{
		Vaults: []VaultUsage{
			{Vault: "api-keys", Queues: []string{"inference"}, GitTokenOf: []string{}},
			{Vault: "github", Queues: []string{}, GitTokenOf: []string{"inference"}},
			{Vault: "old", Queues: []string{}, GitTokenOf: []string{}},
		},
		Missing:  []VaultUsage{{Vault: "gone", Queues: []string{"inference"}, GitTokenOf: []string{}}},
		Problems: []string{},
	}
	if !reflect.DeepEqual(usage, want) {
		t.Fatalf("usage = %+v, want %+v", usage, want)
	}

	report, err := s.Check([]string{yaml}, 0)
	must(t, err)
	if report.Errors != 1 {
		t.Fatalf("errors = %d: %+v", report.Errors, report.Findings)
	}
	var first Finding
	for _, f := range report.Findings {
		if f.Severity == "error" {
			first = f
		}
	}
	if first.Check != "missing_vault" || first.Queue != "inference" || first.Vault != "gone" || first.Key != "" {
		t.Fatalf("first finding = %+v", first)
	}
	if !strings.HasPrefix(first.String(), "error: queue 'inference' lists vault 'gone'") {
		t.Fatal(first.String())
	}
	var token *Finding
	for i := range report.Findings {
		if report.Findings[i].Check == "git_token" {
			token = &report.Findings[i]
		}
	}
	if token == nil || token.Severity != "warning" || token.Key != "GIT_TOKEN" {
		t.Fatalf("git_token finding = %+v", token)
	}

	_, err = s.Usage([]string{filepath.Join(t.TempDir(), "nope.yaml")})
	if !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), "queue configuration not found") {
		t.Fatalf("missing file: %v", err)
	}
}
