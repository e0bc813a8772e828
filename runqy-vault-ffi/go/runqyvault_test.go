package runqyvault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const (
	keyA = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	keyB = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
)

func clearKeyEnv(t *testing.T) {
	t.Helper()
	// Empty counts as unset for the library.
	t.Setenv("RUNQY_VAULT_MASTER_KEY", "")
	t.Setenv("RUNQY_VAULT_MASTER_KEY_FILE", "")
	t.Setenv("RUNQY_VAULT_MASTER_KEY_PREVIOUS", "")
}

func openA(t testing.TB, name string) *Store {
	t.Helper()
	s, err := OpenWithKey(filepath.Join(t.TempDir(), name), keyA)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFullFlowThroughCgo(t *testing.T) {
	s := openA(t, "flow.db")
	enabled, err := s.Enabled()
	must(t, err)
	if !enabled {
		t.Fatal("store with a key is not enabled")
	}
	must(t, s.CreateVault("api-keys", "keys for the model APIs"))
	must(t, s.CreateVault("model-credentials", ""))
	must(t, s.Set("api-keys", "API_KEY", "old", true))
	must(t, s.Set("api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx", true))
	must(t, s.Set("model-credentials", "API_KEY", "new", true))
	must(t, s.Set("model-credentials", "REGION", "eu-west-1", false))
	must(t, s.Set("model-credentials", "GIT", "ghp_token", true))

	v, err := s.Get("api-keys", "OPENAI_API_KEY")
	must(t, err)
	if v != "sk-proj-abc123xx" {
		t.Fatalf("Get = %q", v)
	}

	list, err := s.ListVaults()
	must(t, err)
	want := []VaultSummary{{"api-keys", "keys for the model APIs", 2}, {"model-credentials", "", 3}}
	if fmt.Sprint(list) != fmt.Sprint(want) {
		t.Fatalf("ListVaults = %v, want %v", list, want)
	}

	d, err := s.Show("api-keys")
	must(t, err)
	if len(d.Entries) != 2 || d.Entries[1].Key != "OPENAI_API_KEY" || d.Entries[1].Value != "sk****xx" || !d.Entries[1].IsSecret {
		t.Fatalf("Show = %+v", d)
	}

	r, err := s.Resolve([]string{"api-keys", "model-credentials"})
	must(t, err)
	if r.Values["API_KEY"] != "new" || r.Sources["API_KEY"].Vault != "model-credentials" ||
		fmt.Sprint(r.Sources["API_KEY"].Shadowed) != "[api-keys]" {
		t.Fatalf("Resolve = %+v", r)
	}

	p, err := s.RegistrationPayload([]string{"api-keys", "model-credentials"}, "vault://model-credentials/GIT")
	must(t, err)
	out, err := json.Marshal(p)
	must(t, err)
	wantJSON := `{"git_token":"ghp_token","vaults":{"API_KEY":"new","GIT":"ghp_token","OPENAI_API_KEY":"sk-proj-abc123xx","REGION":"eu-west-1"}}`
	if string(out) != wantJSON {
		t.Fatalf("payload JSON = %s\nwant %s", out, wantJSON)
	}
	if len(p.Warnings) != 0 {
		t.Fatalf("warnings = %v", p.Warnings)
	}

	must(t, s.Unset("api-keys", "API_KEY"))
	must(t, s.DeleteVault("api-keys"))
	list, err = s.ListVaults()
	must(t, err)
	if len(list) != 1 || list[0].Name != "model-credentials" {
		t.Fatalf("after delete: %v", list)
	}
}

// Values that JSON must escape come out of RegistrationPayload as they went in.
func TestPayloadValuesNeedingEscapesDecodeExactly(t *testing.T) {
	s := openA(t, "escapes.db")
	must(t, s.CreateVault("app", ""))
	values := map[string]string{
		"QUOTES":  `say "hi" \ C:\path`,
		"LINES":   "line 1\nline 2\r\n\ttabbed",
		"CONTROL": "\x01\x1f\x7f",
		"UNICODE": "héllo 日本 🔑 \u2028\u2029",
		"HTML":    "<script>&amp;</script>",
		"EMPTY":   "",
	}
	for k, v := range values {
		must(t, s.Set("app", k, v, true))
	}
	p, err := s.RegistrationPayload([]string{"app"}, "vault://app/UNICODE")
	must(t, err)
	if fmt.Sprint(p.Vaults) != fmt.Sprint(values) || p.GitToken != values["UNICODE"] {
		t.Fatalf("payload = %q (git token %q), want %q", p.Vaults, p.GitToken, values)
	}
}

func TestBadGitTokenIsAWarningNotAnError(t *testing.T) {
	s := openA(t, "warn.db")
	must(t, s.CreateVault("app", ""))
	must(t, s.Set("app", "K", "v", true))
	p, err := s.RegistrationPayload([]string{"app"}, "vault://app/MISSING")
	must(t, err)
	if p.GitToken != "" || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "MISSING") {
		t.Fatalf("payload = %+v", p)
	}
	out, _ := json.Marshal(p)
	if string(out) != `{"vaults":{"K":"v"}}` {
		t.Fatalf("warnings leaked into the worker JSON: %s", out)
	}
}

type errorCase struct {
	name     string
	err      error
	sentinel error
	status   int
	part     string
}

func TestErrorsMatchSentinelsWithErrorsIs(t *testing.T) {
	s := openA(t, "errors.db")
	must(t, s.CreateVault("app", ""))
	cases := []errorCase{
		{"exists", s.CreateVault("app", ""), ErrVaultExists, 409, "'app' already exists"},
		{"invalid name", s.CreateVault("bad name!", ""), ErrInvalidName, 400, "bad name!"},
		{"reserved name", s.Set("app", "LD_PRELOAD", "x", true), ErrReservedName, 400, "LD_PRELOAD"},
		{"invalid value", s.Set("app", "BIG", strings.Repeat("x", 65537), true), ErrInvalidValue, 400, "'BIG'"},
		{"vault not found", s.DeleteVault("nope"), ErrVaultNotFound, 404, "'nope'"},
		{"entry not found", s.Unset("app", "NOPE"), ErrEntryNotFound, 404, "'NOPE'"},
		{"rotate to current", s.RotateKey(keyA), ErrInvalidArgument, 400, "current key"},
		{"rotate to garbage", s.RotateKey("short"), ErrInvalidMasterKey, 400, "new_master_key"},
		{"non-UTF-8", s.CreateVault("\xff", ""), ErrInvalidArgument, 400, "not valid UTF-8"},
	}
	_, getErr := s.Get("app", "NOPE")
	cases = append(cases, errorCase{"get missing", getErr, ErrEntryNotFound, 404, "'NOPE' not found in vault 'app'"})
	_, resolveErr := s.Resolve([]string{"gone-1", "app", "gone-2"})
	cases = append(cases, errorCase{"resolve names every missing vault", resolveErr, ErrVaultNotFound, 404, "'gone-1', 'gone-2'"})
	for _, c := range cases {
		if !errors.Is(c.err, c.sentinel) {
			t.Errorf("%s: %v is not %v", c.name, c.err, c.sentinel)
			continue
		}
		if errors.Is(c.err, ErrDisabled) {
			t.Errorf("%s: %v matches ErrDisabled too", c.name, c.err)
		}
		if HTTPStatus(c.err) != c.status {
			t.Errorf("%s: HTTPStatus = %d, want %d", c.name, HTTPStatus(c.err), c.status)
		}
		if !strings.Contains(c.err.Error(), c.part) {
			t.Errorf("%s: message %q lacks %q", c.name, c.err, c.part)
		}
	}
	if HTTPStatus(nil) != 200 || HTTPStatus(errors.New("other")) != 500 {
		t.Error("HTTPStatus of nil / a foreign error")
	}
}

func TestKeyMismatchAndRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rotate.db")
	s, err := OpenWithKey(path, keyA)
	must(t, err)
	must(t, s.CreateVault("app", ""))
	must(t, s.Set("app", "TOKEN", "t0ken", true))
	must(t, s.RotateKey(keyB))
	must(t, s.Close())

	if _, err := OpenWithKey(path, keyA); !errors.Is(err, ErrKeyMismatch) || HTTPStatus(err) != 500 {
		t.Fatalf("old key after rotation: %v", err)
	}
	s, err = OpenWithKey(path, keyB)
	must(t, err)
	defer s.Close()
	v, err := s.Get("app", "TOKEN")
	must(t, err)
	if v != "t0ken" {
		t.Fatalf("after rotation Get = %q", v)
	}
}

func TestStoreWithoutKeyIsDisabled(t *testing.T) {
	clearKeyEnv(t)
	s, err := Open(filepath.Join(t.TempDir(), "disabled.db"))
	must(t, err)
	defer s.Close()
	enabled, err := s.Enabled()
	must(t, err)
	if enabled {
		t.Fatal("store without a key is enabled")
	}
	err = s.CreateVault("app", "")
	if !errors.Is(err, ErrDisabled) || HTTPStatus(err) != 503 || !strings.Contains(err.Error(), "openssl rand -base64 32") {
		t.Fatalf("CreateVault on a disabled store: %v", err)
	}
	if _, err := s.RegistrationPayload([]string{"app"}, ""); !errors.Is(err, ErrDisabled) {
		t.Fatalf("RegistrationPayload on a disabled store: %v", err)
	}
}

func TestKeyFromEnvironment(t *testing.T) {
	clearKeyEnv(t)
	t.Setenv("RUNQY_VAULT_MASTER_KEY", keyA)
	s, err := Open(filepath.Join(t.TempDir(), "env.db"))
	must(t, err)
	defer s.Close()
	if enabled, _ := s.Enabled(); !enabled {
		t.Fatal("key from the environment not used")
	}
	t.Setenv("RUNQY_VAULT_MASTER_KEY", "broken")
	if _, err := Open(filepath.Join(t.TempDir(), "broken.db")); !errors.Is(err, ErrInvalidMasterKey) {
		t.Fatalf("broken key in the environment: %v", err)
	}
}

func TestClosedStoreReturnsErrClosed(t *testing.T) {
	s := openA(t, "closed.db")
	must(t, s.Close())
	must(t, s.Close()) // twice is fine
	if err := s.CreateVault("app", ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
	if _, err := s.Get("app", "K"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
}

func TestGenerateKeyMaskVersion(t *testing.T) {
	k1, err := GenerateKey()
	must(t, err)
	k2, err := GenerateKey()
	must(t, err)
	if len(k1) != 44 || k1 == k2 {
		t.Fatalf("GenerateKey = %q, %q", k1, k2)
	}
	s, err := OpenWithKey(filepath.Join(t.TempDir(), "gen.db"), k1)
	must(t, err)
	s.Close()
	for in, want := range map[string]string{"": "", "abcd": "****", "sk-proj-abc123xx": "sk****xx", "héllo wörld": "hé****ld"} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
	if Version() != "0.1.0" {
		t.Errorf("Version = %q", Version())
	}
	if CodePanic.HTTPStatus() != 500 || CodeOK.HTTPStatus() != 200 || CodeVaultExists.HTTPStatus() != 409 {
		t.Error("Code.HTTPStatus")
	}
}

// The names come from the linked library's table (runqy_vault_result_name),
// not from a copy in Go.
func TestCodeNamesAndStatusesComeFromTheLibrary(t *testing.T) {
	codes := []Code{CodeOK, CodeDisabled, CodeInvalidMasterKey, CodeKeyMismatch, CodeVaultNotFound,
		CodeEntryNotFound, CodeVaultExists, CodeInvalidName, CodeReservedName, CodeInvalidValue,
		CodeInvalidArgument, CodeDecryptionFailed, CodeStorage, CodeIO, CodePanic, CodeOther}
	seen := map[string]Code{}
	for _, c := range codes {
		name := c.String()
		if !strings.HasPrefix(name, "RUNQY_VAULT_") || name == "RUNQY_VAULT_UNKNOWN" {
			t.Errorf("code %d is named %q", uint32(c), name)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("codes %d and %d are both named %q", uint32(other), uint32(c), name)
		}
		seen[name] = c
	}
	if got := CodeVaultNotFound.String(); got != "RUNQY_VAULT_VAULT_NOT_FOUND" {
		t.Errorf("CodeVaultNotFound.String() = %q", got)
	}
	if got := ErrVaultNotFound.Error(); got != "runqy-vault: RUNQY_VAULT_VAULT_NOT_FOUND" {
		t.Errorf("ErrVaultNotFound.Error() = %q", got)
	}
	unknown := Code(0xfffe)
	if unknown.String() != "RUNQY_VAULT_UNKNOWN" || unknown.HTTPStatus() != 500 {
		t.Errorf("an unknown code: %q, HTTP %d", unknown.String(), unknown.HTTPStatus())
	}
	// A library error with its message still matches the message-less sentinel.
	if err := error(&Error{Code: CodeVaultNotFound, Message: "vault 'x' not found"}); !errors.Is(err, ErrVaultNotFound) || errors.Is(err, ErrEntryNotFound) {
		t.Errorf("%v against the sentinels", err)
	}
}

func TestOneStoreManyGoroutinesSeesEveryWrite(t *testing.T) {
	s := openA(t, "goroutines.db")
	must(t, s.CreateVault("shared", ""))
	const workers, rounds = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				key, value := fmt.Sprintf("K_%d_%d", w, i), fmt.Sprintf("value-%d-%d", w, i)
				if err := s.Set("shared", key, value, true); err != nil {
					errs <- err
					continue
				}
				if got, err := s.Get("shared", key); err != nil || got != value {
					errs <- fmt.Errorf("Get %s = %q, %v", key, got, err)
				}
				if _, err := s.Get("shared", "MISSING"); !errors.Is(err, ErrEntryNotFound) || !strings.Contains(err.Error(), "'MISSING'") {
					errs <- fmt.Errorf("missing key from goroutine %d: %v", w, err)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := s.ListVaults()
	must(t, err)
	if list[0].EntryCount != workers*rounds {
		t.Fatalf("entry_count = %d, want %d", list[0].EntryCount, workers*rounds)
	}
}

func TestRegistrationPayloadJSONIsTheLibrarysJSONWithWarnings(t *testing.T) {
	s := openA(t, "raw.db")
	must(t, s.CreateVault("app", ""))
	must(t, s.Set("app", "K", "v", true))
	raw, err := s.RegistrationPayloadJSON([]string{"app"}, "not-a-reference")
	must(t, err)
	if !strings.HasPrefix(string(raw), `{"vaults":{"K":"v"},"warnings":["git_token left out: `) {
		t.Fatalf("raw payload = %s", raw)
	}
}

func TestNulBytesAreRefusedNotCutShort(t *testing.T) {
	s := openA(t, "nul.db")
	must(t, s.CreateVault("app", ""))
	if err := s.Set("app", "K", "before\x00after", true); !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "'K'") {
		t.Fatalf("value with NUL: %v", err)
	}
	if _, err := s.Get("app", "K"); !errors.Is(err, ErrEntryNotFound) {
		t.Fatalf("a cut-short value was stored: %v", err)
	}
	if err := s.CreateVault("a\x00b", ""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("name with NUL: %v", err)
	}
	if _, err := s.Resolve([]string{"app\x00x"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("vault list with NUL: %v", err)
	}
	if Mask("ab\x00cdefgh") != "****" {
		t.Fatal("Mask of a NUL-bearing value shows part of it")
	}
}

// Results larger than a pooled scratch buffer take the other path (a copy of
// the library's string, then a second call to free it), and so do arguments
// larger than the buffer; vault lists longer than the shims keep on the C
// stack point from C memory.
func TestBigValuesAndLongVaultLists(t *testing.T) {
	s := openA(t, "big.db")
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB, the largest value
	names := make([]string, 40)
	for i := range names {
		names[i] = fmt.Sprintf("v%02d", i)
		must(t, s.CreateVault(names[i], strings.Repeat("d", 100)))
		must(t, s.Set(names[i], "SMALL", fmt.Sprintf("small-%02d", i), true))
	}
	must(t, s.Set("v07", "BIG", big, true))
	for _, size := range []int{0, 1, scratchSize - 20, scratchSize, scratchSize + 1, len(big)} {
		value := big[:size]
		must(t, s.Set("v01", "SIZED", value, true))
		got, err := s.Get("v01", "SIZED")
		must(t, err)
		if got != value {
			t.Fatalf("Get of a %d-byte value gave %d bytes", size, len(got))
		}
	}
	for _, n := range []int{0, 1, 32, 33, 40} {
		res, err := s.Resolve(names[:n])
		must(t, err)
		want := ""
		if n > 0 {
			want = fmt.Sprintf("small-%02d", n-1)
		}
		if res.Values["SMALL"] != want || (res.Values["BIG"] == big) != (n > 7) {
			t.Fatalf("Resolve of %d vaults: SMALL = %q, BIG has %d bytes", n, res.Values["SMALL"], len(res.Values["BIG"]))
		}
		p, err := s.RegistrationPayload(names[:n], "vault://v07/BIG")
		must(t, err)
		if (p.Vaults["BIG"] == big) != (n > 7) || p.GitToken != big {
			t.Fatalf("payload of %d vaults: BIG has %d bytes, git token %d", n, len(p.Vaults["BIG"]), len(p.GitToken))
		}
		raw, err := s.RegistrationPayloadJSON(names[:n], "")
		must(t, err)
		var fromRaw Payload
		must(t, json.Unmarshal(raw, &fromRaw))
		if fromRaw.Vaults["SMALL"] != want {
			t.Fatalf("raw payload of %d vaults: %s", n, raw)
		}
	}
	list, err := s.ListVaults()
	must(t, err)
	if len(list) != len(names) {
		t.Fatalf("ListVaults: %d vaults", len(list))
	}
	d, err := s.Show("v07")
	must(t, err)
	if len(d.Entries) != 2 {
		t.Fatalf("Show: %d entries", len(d.Entries))
	}
	if _, err := s.Resolve(append(names[:40:40], "missing")); !errors.Is(err, ErrVaultNotFound) {
		t.Fatalf("Resolve with a missing vault among 41: %v", err)
	}
}

// The scratch buffers handed to C, which held arguments and results
// (secrets among them), are zeroed before they are reused.
func TestScratchIsWipedOnRelease(t *testing.T) {
	sc, err := pack([]string{"vault-a", "vault-b"}, "path", "super-secret-key")
	must(t, err)
	// A result as C copies it in and result() takes it.
	n := copy(sc.buf[len(sc.buf):cap(sc.buf)], "a secret result")
	sc.buf = sc.buf[:len(sc.buf)+n]
	buf := sc.buf[:cap(sc.buf)]
	sc.release()
	for i, b := range buf {
		if b != 0 {
			t.Fatalf("byte %d of the released buffer is %q", i, b)
		}
	}
	// Through the calls: whatever buffer the pool hands out next is zeroed.
	s := openA(t, "wipe.db")
	must(t, s.CreateVault("app", ""))
	must(t, s.Set("app", "K", "sk-live-secret", true))
	for i := 0; i < 20; i++ {
		if _, err := s.Get("app", "K"); err != nil {
			t.Fatal(err)
		}
		sc := scratchPool.Get().(*scratch)
		if all := sc.buf[:cap(sc.buf)]; len(sc.buf) != 0 || bytes.Count(all, []byte{0}) != len(all) {
			t.Fatal("a pooled scratch buffer was not wiped")
		}
		scratchPool.Put(sc)
	}
}
