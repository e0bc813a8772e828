package runqyvault

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const postgresURLVar = "RUNQY_VAULT_TEST_POSTGRES_URL"

// unreachablePostgres names a port nothing listens on, with a password that
// must never show.
const unreachablePostgres = "postgres://u:pw-secret@127.0.0.1:1/x"

// postgresDB creates a fresh database on the server of RUNQY_VAULT_TEST_POSTGRES_URL
// (an admin URL, as scripts/with-postgres.sh exports it), drops it at cleanup
// and returns its URL. It skips the test when the variable is unset.
func postgresDB(t *testing.T) string {
	t.Helper()
	admin := os.Getenv(postgresURLVar)
	if admin == "" {
		t.Skip(postgresURLVar + " is unset: run under scripts/with-postgres.sh for the PostgreSQL tests")
	}
	psql := func(sql string) error {
		out, err := exec.Command("psql", "-q", "-v", "ON_ERROR_STOP=1", admin, "-c", sql).CombinedOutput()
		if err != nil {
			return fmt.Errorf("psql %q: %v: %s", sql, err, out)
		}
		return nil
	}
	name := fmt.Sprintf("rv_go_%d_%d", os.Getpid(), time.Now().UnixNano())
	if err := psql("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := psql("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	base, query, _ := strings.Cut(admin, "?")
	url := base[:strings.LastIndex(base, "/")+1] + name
	if query != "" {
		url += "?" + query
	}
	return url
}

func TestPostgresMainFlow(t *testing.T) {
	clearKeyEnv(t)
	url := postgresDB(t)

	s, err := OpenWithKey(url, keyA)
	must(t, err)
	must(t, s.CreateVault("api-keys", "keys for the model APIs"))
	must(t, s.CreateVault("model-credentials", ""))
	if err := s.CreateVault("api-keys", ""); !errors.Is(err, ErrVaultExists) {
		t.Fatalf("second create: %v, want ErrVaultExists", err)
	}
	must(t, s.Set("api-keys", "API_KEY", "old", true))
	must(t, s.Set("api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx", true))
	must(t, s.Set("model-credentials", "API_KEY", "new", true))
	must(t, s.Set("model-credentials", "GIT", "ghp_token", true))

	v, err := s.Get("api-keys", "OPENAI_API_KEY")
	must(t, err)
	if v != "sk-proj-abc123xx" {
		t.Fatalf("get: %q", v)
	}
	if _, err := s.Get("api-keys", "NOPE"); !errors.Is(err, ErrEntryNotFound) {
		t.Fatalf("get of a missing key: %v, want ErrEntryNotFound", err)
	}
	detail, err := s.Show("api-keys")
	must(t, err)
	if len(detail.Entries) != 2 || detail.Entries[1].Key != "OPENAI_API_KEY" || detail.Entries[1].Value != "sk****xx" {
		t.Fatalf("show: %+v", detail.Entries)
	}

	// The later vault wins API_KEY.
	p, err := s.RegistrationPayload([]string{"api-keys", "model-credentials"}, "vault://model-credentials/GIT")
	must(t, err)
	if p.GitToken != "ghp_token" || p.Vaults["API_KEY"] != "new" || p.Vaults["OPENAI_API_KEY"] != "sk-proj-abc123xx" || len(p.Vaults) != 3 {
		t.Fatalf("payload: %+v", p)
	}

	must(t, s.RotateKey(keyB))
	v, err = s.Get("api-keys", "API_KEY")
	must(t, err)
	if v != "old" {
		t.Fatalf("get after rotation: %q", v)
	}
	must(t, s.Close())

	if old, err := OpenWithKey(url, keyA); !errors.Is(err, ErrKeyMismatch) {
		if old != nil {
			old.Close()
		}
		t.Fatalf("reopen with the old key: %v, want ErrKeyMismatch", err)
	}
	// Open reads the new key from the environment.
	t.Setenv("RUNQY_VAULT_MASTER_KEY", keyB)
	s, err = Open(url)
	must(t, err)
	defer s.Close()
	v, err = s.Get("model-credentials", "GIT")
	must(t, err)
	if v != "ghp_token" {
		t.Fatalf("get after reopening with the new key: %q", v)
	}
}

func TestPostgresUnreachableIsStorageErrorNamingHostNotPassword(t *testing.T) {
	clearKeyEnv(t)
	s, err := OpenWithKey(unreachablePostgres, keyA)
	if s != nil {
		s.Close()
	}
	if !errors.Is(err, ErrStorage) {
		t.Fatalf("open: %v, want ErrStorage", err)
	}
	if HTTPStatus(err) != 500 {
		t.Fatalf("status %d, want 500", HTTPStatus(err))
	}
	msg := err.Error()
	if !strings.Contains(msg, "127.0.0.1:1") || !strings.Contains(msg, "'x'") || strings.Contains(msg, "pw-secret") {
		t.Fatalf("message %q: want host and database, no password", msg)
	}
}
