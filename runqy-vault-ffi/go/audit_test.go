package runqyvault

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuditLogNamesTheWorkerThatGotEachSecret(t *testing.T) {
	s := openA(t, "audit.db")
	must(t, s.SetActor("go-server"))
	must(t, s.CreateVault("ci", ""))
	must(t, s.Set("ci", "TOKEN", "go-secret-value", true))
	worker := WithActor("worker:7 queue:inference")
	if _, err := s.RegistrationPayloadJSON([]string{"ci"}, "", worker); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get("ci", "TOKEN", worker); err != nil || v != "go-secret-value" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	must(t, s.Unset("ci", "TOKEN", WithActor("admin")))

	all, err := s.AuditLog(AuditFilter{})
	must(t, err)
	var got []string
	for _, r := range all {
		got = append(got, r.Operation+" by "+r.Actor)
	}
	want := "create by go-server|set by go-server|payload by worker:7 queue:inference|get by worker:7 queue:inference|unset by admin"
	if strings.Join(got, "|") != want {
		t.Fatalf("log %q, want %q", strings.Join(got, "|"), want)
	}
	if all[1].Fingerprint == nil || !strings.HasPrefix(*all[1].Fingerprint, "hmac-sha256:") || *all[1].Version != 1 {
		t.Errorf("set record %+v", all[1])
	}
	if !strings.Contains(string(all[2].Detail), `"delivered":[{"key":"TOKEN","vault":"ci","version":1}]`) {
		t.Errorf("payload detail %s", all[2].Detail)
	}
	mine, err := s.AuditLog(AuditFilter{Actor: "worker:7 queue:inference", Limit: 1})
	must(t, err)
	if len(mine) != 1 || mine[0].Operation != "get" {
		t.Errorf("filtered %+v", mine)
	}
	n, err := s.AuditVerify()
	if err != nil || n != 5 {
		t.Fatalf("AuditVerify = %d, %v", n, err)
	}
	if p, err := s.AuditProblem(); err != nil || p != "" {
		t.Errorf("AuditProblem = %q, %v", p, err)
	}
	on, err := s.AuditReads()
	if err != nil || !on {
		t.Errorf("AuditReads = %v, %v", on, err)
	}
	must(t, s.SetAuditReads(false))
	if on, _ := s.AuditReads(); on {
		t.Error("still on")
	}
	if n, err := s.AuditPrune("2000-01-01"); err != nil || n != 0 {
		t.Errorf("AuditPrune = %d, %v", n, err)
	}
}

func TestAuditBadInputAndABrokenChain(t *testing.T) {
	s := openA(t, "audit-bad.db")
	for _, f := range []AuditFilter{{Operation: "steal"}, {Since: "yesterday"}} {
		if _, err := s.AuditLog(f); !errors.Is(err, ErrInvalidArgument) || HTTPStatus(err) != 400 {
			t.Errorf("AuditLog(%+v): %v", f, err)
		}
	}
	if _, err := s.AuditPrune("soon"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("AuditPrune: %v", err)
	}
	if err := s.SetActor(""); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("SetActor empty: %v", err)
	}
	if _, err := s.Get("ci", "K", WithActor(strings.Repeat("w", 257))); !errors.Is(err, ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "at most 256") {
		t.Errorf("long actor: %v", err)
	}
	// A record edited in the file: AuditVerify names it; the store works on.
	path := filepath.Join(t.TempDir(), "tampered.db")
	w, err := OpenWithKey(path, keyA)
	must(t, err)
	must(t, w.CreateVault("ci", ""))
	must(t, w.Set("ci", "K", "v", true, WithActor("editor-marker")))
	must(t, w.Close()) // the last connection checkpoints the WAL into the file
	raw, err := os.ReadFile(path)
	must(t, err)
	// Every copy: the version row names its writer too.
	edited := strings.ReplaceAll(string(raw), "editor-marker", "editor-markes")
	if edited == string(raw) {
		t.Fatal("the actor is not in the file")
	}
	must(t, os.WriteFile(path, []byte(edited), 0o600))
	w, err = OpenWithKey(path, keyA)
	must(t, err)
	defer w.Close()
	_, err = w.AuditVerify()
	if !errors.Is(err, ErrAuditBroken) || HTTPStatus(err) != 500 ||
		!strings.Contains(err.Error(), "audit record 2: does not verify") {
		t.Errorf("AuditVerify of a tampered log: %v", err)
	}
	if p, _ := w.AuditProblem(); !strings.Contains(p, "audit record 2") {
		t.Errorf("AuditProblem = %q", p)
	}
	if v, err := w.Get("ci", "K"); err != nil || v != "v" {
		t.Errorf("Get on a broken log = %q, %v", v, err)
	}
	if !errors.Is(ErrAuditBroken, &Error{Code: CodeAuditBroken}) || CodeAuditBroken.HTTPStatus() != 500 ||
		CodeAuditBroken.String() != "RUNQY_VAULT_AUDIT_BROKEN" {
		t.Error("ErrAuditBroken")
	}
}
