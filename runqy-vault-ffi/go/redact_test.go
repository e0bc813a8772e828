package runqyvault

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
)

const (
	secret = "sk-proj-abc/123+x=" // '/', '+' and '=' give distinct escaped forms
	masked = "sk****x="
	token  = "ghp_clone_token_42"
)

var payload = []byte(`{"redis":{"addr":"localhost:6379"},"queue":{"name":"q"},` +
	`"vaults":{"API_KEY":"` + secret + `","DB_PASSWORD":"pa\"ss\\word-42","PORT":"8080"},` +
	`"git_token":"` + token + `"}`)

// shellQuote quotes s for sh -c.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// A child process writes a secret in several forms, each split across two
// writes with a pause between, on both of its outputs; each output goes
// through its own redacting writer.
func TestRedactingWriterMasksAChildProcessOutputSplitAcrossWrites(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte("user:" + secret))
	// The last: DB_PASSWORD (pa"ss\word-42) as JSON escapes it.
	forms := []string{secret, url.QueryEscape(secret), b64, `{"password":"pa\"ss\\word-42"}`}
	var script strings.Builder
	for i, form := range forms {
		cut := len(form) / 2
		fmt.Fprintf(&script, "printf %%s %s; sleep 0.05; printf '%%s\\n' %s; ", shellQuote(form[:cut]), shellQuote(form[cut:]))
		if i == 0 {
			fmt.Fprintf(&script, "printf %%s %s >&2; sleep 0.05; printf %%s %s >&2; ", shellQuote("err="+secret[:5]), shellQuote(secret[5:]))
		}
	}
	script.WriteString("printf 'bin:\\000\\377\\376\\n'; printf %s " + shellQuote("clone https://"+token+"@github.com"))

	r, err := NewRedactor(payload)
	must(t, err)
	defer r.Close()
	var stdout, stderr bytes.Buffer
	out, errw := r.Writer(&stdout), r.Writer(&stderr)
	cmd := exec.Command("sh", "-c", script.String())
	cmd.Stdout, cmd.Stderr = out, errw
	must(t, cmd.Run())
	must(t, out.Close())
	must(t, errw.Close())

	// The base64 form: the characters fully decided by the value are masked,
	// those mixing it with "user:" stay.
	redactedB64, err := redactString(b64)
	must(t, err)
	want := masked + "\n" + masked + "\n" + redactedB64 + "\n" + `{"password":"pa****42"}` + "\n" +
		"bin:\x00\xff\xfe\n" + "clone https://gh****42@github.com"
	if got := stdout.String(); got != want {
		t.Errorf("stdout:\n got %q\nwant %q", got, want)
	}
	if got := stderr.String(); got != "err="+masked {
		t.Errorf("stderr: got %q", got)
	}
	// The characters of the base64 that only the value decides ("user:" is
	// 5 bytes: the value starts at bit 40, so at character 7).
	if decided := b64[7 : 8*(5+len(secret))/6]; strings.Contains(stdout.String(), decided) || !strings.Contains(redactedB64, masked) {
		t.Errorf("the value's base64 %q survived: %q", decided, redactedB64)
	}
	skipped, err := r.Skipped()
	must(t, err)
	if fmt.Sprint(skipped) != "[PORT]" {
		t.Errorf("skipped = %v", skipped)
	}
}

// redactString is the one-shot redaction of s by the payload's values.
func redactString(s string) (string, error) {
	var b bytes.Buffer
	w := NewRedactingWriter(&b, payload)
	if _, err := io.WriteString(w, s); err != nil {
		return "", err
	}
	err := w.Close()
	return b.String(), err
}

func TestRedactingWriterReleasesLinesAtOnceAndHeldBytesOnClose(t *testing.T) {
	var b bytes.Buffer
	w := NewRedactingWriter(&b, payload)
	_, err := io.WriteString(w, "line one\nkey=sk-proj-a")
	must(t, err)
	if b.String() != "line one\nkey=" {
		t.Fatalf("after the first write: %q", b.String())
	}
	_, err = io.WriteString(w, "bc/12")
	must(t, err)
	must(t, w.Close())
	if b.String() != "line one\nkey=sk-proj-abc/12" {
		t.Fatalf("after Close: %q (a prefix of a value is not the value)", b.String())
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrRedactorClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	must(t, w.Close()) // twice is fine
}

func TestRedactingWriterHandsOnALargeWriteWhole(t *testing.T) {
	chunk := strings.Repeat("x", 100_000) + secret + strings.Repeat("y", 100_000)
	got, err := redactString(chunk)
	must(t, err)
	if want := strings.Repeat("x", 100_000) + masked + strings.Repeat("y", 100_000); got != want {
		t.Fatalf("large write: %d bytes, want %d", len(got), len(want))
	}
}

func TestNewRedactingWriterWithABadPayloadRefusesEveryWrite(t *testing.T) {
	for _, bad := range []string{`{"vaults":{"K":"sk-secret`, `{"vaults":{"API_KEY":12345678}}`, "a\x00b"} {
		var b bytes.Buffer
		w := NewRedactingWriter(&b, []byte(bad))
		_, err := io.WriteString(w, "sk-secret output")
		if err == nil || !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("%q: Write error = %v", bad, err)
		}
		if strings.Contains(err.Error(), "sk-secret") || strings.Contains(err.Error(), "12345678") {
			t.Fatalf("the error shows the value: %v", err)
		}
		if cerr := w.Close(); !errors.Is(cerr, ErrInvalidArgument) {
			t.Fatalf("%q: Close error = %v", bad, cerr)
		}
		if b.Len() != 0 {
			t.Fatalf("%q: output passed unredacted: %q", bad, b.String())
		}
	}
	_, err := NewRedactor([]byte(`{"vaults":{"API_KEY":true}}`))
	if err == nil || !strings.Contains(err.Error(), "the value of key 'API_KEY' is a boolean") {
		t.Fatalf("NewRedactor error = %v", err)
	}
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestRedactingWriterReturnsTheUnderlyingWritersFailure(t *testing.T) {
	w := NewRedactingWriter(errWriter{}, payload)
	if _, err := io.WriteString(w, "hello\n"); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Write error = %v", err)
	}
	if err := w.Close(); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Close error = %v", err)
	}
}

func TestOneRedactorServesWritersOnManyGoroutines(t *testing.T) {
	r, err := NewRedactor(payload)
	must(t, err)
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, 8)
	for i := range outs {
		w := r.Writer(&outs[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				for _, piece := range []string{"n=" + secret[:4], secret[4:], "\n"} {
					if _, err := io.WriteString(w, piece); err != nil {
						t.Error(err)
						return
					}
				}
			}
			if err := w.Close(); err != nil {
				t.Error(err)
			}
		}()
	}
	r.Close() // writers made before keep working
	wg.Wait()
	for i := range outs {
		if want := strings.Repeat("n="+masked+"\n", 200); outs[i].String() != want {
			t.Fatalf("writer %d: %q...", i, outs[i].String()[:40])
		}
	}
	if _, err := r.Skipped(); !errors.Is(err, ErrRedactorClosed) {
		t.Fatalf("Skipped after Close: %v", err)
	}
}

// Issue 12's new user: the worker holds its master key and API key in its
// environment; the task started with ChildEnv sees neither.
func TestChildEnvOfAWorkerHoldingTheMasterKeyAndAPIKeyPassesOnNeither(t *testing.T) {
	base := []string{
		"HOME=/home/worker",
		"RUNQY_VAULT_MASTER_KEY=" + keyA,
		"RUNQY_API_KEY=worker-api-key",
		"RUNQY_VAULT_KEYS=STALE",
		"API_KEY=inherited",
		"PATH=/usr/bin:/bin",
	}
	env, err := ChildEnv(payload, base)
	must(t, err)
	cmd := exec.Command("sh", "-c", "env")
	cmd.Env = env
	out, err := cmd.Output()
	must(t, err)
	var runqy []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(strings.ToUpper(line), "RUNQY_") {
			runqy = append(runqy, line)
		}
	}
	if fmt.Sprint(runqy) != "[RUNQY_VAULT_KEYS=API_KEY,DB_PASSWORD,PORT]" {
		t.Fatalf("the task sees %v", runqy)
	}
	if !strings.Contains(string(out), "API_KEY="+secret+"\n") || strings.Contains(string(out), token) {
		t.Fatalf("task environment:\n%s", out)
	}
	if !sort.StringsAreSorted(env) {
		t.Fatalf("not sorted: %v", env)
	}

	env, err = ChildEnv([]byte(`{}`), base, "RUNQY_API_KEY")
	must(t, err)
	want := "[API_KEY=inherited HOME=/home/worker PATH=/usr/bin:/bin RUNQY_API_KEY=worker-api-key RUNQY_VAULT_KEYS=]"
	if fmt.Sprint(env) != want {
		t.Fatalf("keep: %v", env)
	}
}

func TestChildEnvRefusesABadPayloadWholeNamingTheKey(t *testing.T) {
	for _, c := range []struct {
		payload string
		is      error
		named   string
	}{
		{`{"vaults":{"OK":"x","LD_PRELOAD":"/evil.so"}}`, ErrReservedName, "LD_PRELOAD"},
		{`{"vaults":{"bad-name":"x"}}`, ErrInvalidName, "bad-name"},
		{`{"vaults":{"NUL":"a\u0000b"}}`, ErrInvalidValue, "'NUL'"},
		{`{"vaults":{"N":1}}`, ErrInvalidArgument, "the value of key 'N' is a number"},
		{`not json`, ErrInvalidArgument, "not valid JSON"},
	} {
		env, err := ChildEnv([]byte(c.payload), []string{"HOME=/h"})
		if env != nil || !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.named) {
			t.Errorf("%s: env=%v err=%v", c.payload, env, err)
		}
	}
	if _, err := ChildEnv(payload, []string{"JUNK"}); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "base[0] has no '='") {
		t.Errorf("base without '=': %v", err)
	}
	if _, err := ChildEnv(payload, []string{"A=\x00"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("base with NUL: %v", err)
	}
}
