package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	runqyvault "github.com/publikey/runqy-vault/runqy-vault-ffi/go"
)

func TestARegistrationIsRecordedAsTheWorkerAndItsQueue(t *testing.T) {
	key, err := runqyvault.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	store, err := runqyvault.OpenWithKey(filepath.Join(t.TempDir(), "server.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, step := range []error{
		store.CreateVault("api-keys", ""),
		store.Set("api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx", true),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	srv := httptest.NewServer(handler(store, map[string]string{"inference": "api-keys"}, nil))
	defer srv.Close()

	post := func(body string) (int, string) {
		resp, err := http.Post(srv.URL+"/worker/register", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post(`{"worker_id":"7","queue":"inference"}`)
	if code != 200 || body != `{"vaults":{"OPENAI_API_KEY":"sk-proj-abc123xx"}}` {
		t.Fatalf("register: %d %s", code, body)
	}
	if code, _ := post(`{"worker_id":"7","queue":"nope"}`); code != 404 {
		t.Errorf("unknown queue: %d", code)
	}
	if code, _ := post(`{}`); code != 400 {
		t.Errorf("empty registration: %d", code)
	}
	records, err := store.AuditLog(runqyvault.AuditFilter{Operation: "payload"})
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1 || records[0].Actor != "worker:7 queue:inference" {
		t.Fatalf("payload records %+v", records)
	}
}
