// Package runqyvault is the runqy job queue's secret vault for Go, over the
// C ABI of runqy-vault (include/runqy_vault.h) with cgo.
//
// The import path ends in the directory that holds the package, go, inside
// the repository's runqy-vault-ffi; the package is named runqyvault:
//
//	import runqyvault "github.com/publikey/runqy-vault/runqy-vault-ffi/go"
//
// cgo finds the library through pkg-config (package runqy_vault), which
// names its static library, so programs need no LD_LIBRARY_PATH. Install it
// from a checkout of the repository and point pkg-config at it:
//
//	scripts/install-lib.sh /usr/local   # or any prefix
//	export PKG_CONFIG_PATH=/usr/local/lib/pkgconfig
//
// A *Store is safe for concurrent use by many goroutines. Close it when done;
// a finalizer closes a forgotten one, but only at the garbage collector's
// pleasure. Errors are *Error values that match the sentinels (ErrVaultNotFound,
// ErrDisabled, ...) with errors.Is and carry an HTTP status.
//
// Secrets pass through Go strings, which cannot be wiped; the buffers the
// package hands C for secrets are zeroed after each call.
package runqyvault

/*
#cgo pkg-config: runqy_vault
#include <stdlib.h>
#include <string.h>
#include "runqy_vault.h"

// The shims below wrap the calls of runqy_vault.h so that each Go method
// crosses into C once: the outcome comes back by value (no out pointer into
// Go memory, so nothing escapes to the Go heap), and a string result is
// copied into the caller's buffer (Go memory, passed for the call) and freed
// (wiped) here, instead of by a second cgo call.

// A call's outcome.
typedef struct {
	RunqyVaultResult rc;
	char *err;              // the failure's message (Go frees it), or NULL
	char *out;              // a string result that did not fit dst (Go copies and frees it), or NULL
	size_t len;             // the string result's length, in dst or at out
	RunqyVaultStore *store; // rvgo_open's handle
	bool enabled;           // rvgo_enabled's answer
} rvgo_ret;

// rvgo_take moves the string result s into dst (cap bytes) when it fits,
// freeing s, which wipes it; otherwise it leaves s in r->out.
static void rvgo_take(rvgo_ret *r, char *s, char *dst, size_t cap) {
	if (s == NULL) return;
	r->len = strlen(s);
	if (r->len > cap) {
		r->out = s;
		return;
	}
	if (r->len > 0) memcpy(dst, s, r->len);
	runqy_vault_string_free(s);
}

// Vault lists of up to RVGO_LIST_MAX names are pointed at from the C stack;
// longer ones from spill, n pointers of C memory the caller provides.
#define RVGO_LIST_MAX 32

// rvgo_names points list[0..n) at the n NUL-terminated names packed one
// after another at names.
static const char **rvgo_names(const char **list, const char *names, size_t n) {
	for (size_t i = 0; i < n; i++) {
		list[i] = names;
		names += strlen(names) + 1;
	}
	return list;
}

static rvgo_ret rvgo_open(const char *path, const char *key) {
	rvgo_ret r = {0};
	r.rc = runqy_vault_store_open(path, key, &r.store, &r.err);
	return r;
}

static rvgo_ret rvgo_enabled(const RunqyVaultStore *s) {
	rvgo_ret r = {0};
	r.rc = runqy_vault_store_enabled(s, &r.enabled, &r.err);
	return r;
}

static rvgo_ret rvgo_create(const RunqyVaultStore *s, const char *name, const char *description) {
	rvgo_ret r = {0};
	r.rc = runqy_vault_create(s, name, description, &r.err);
	return r;
}

static rvgo_ret rvgo_delete(const RunqyVaultStore *s, const char *name) {
	rvgo_ret r = {0};
	r.rc = runqy_vault_delete(s, name, &r.err);
	return r;
}

// The calls that read or write values take the actor of WithActor (NULL:
// the handle's), through the _as variants.
static rvgo_ret rvgo_set(const RunqyVaultStore *s, const char *actor, const char *vault, const char *key, const char *value, bool secret) {
	rvgo_ret r = {0};
	r.rc = runqy_vault_set_as(s, actor, vault, key, value, secret, &r.err);
	return r;
}

static rvgo_ret rvgo_get(const RunqyVaultStore *s, const char *actor, const char *vault, const char *key, char *dst, size_t cap) {
	rvgo_ret r = {0};
	char *value = NULL;
	r.rc = runqy_vault_get_as(s, actor, vault, key, &value, &r.err);
	rvgo_take(&r, value, dst, cap);
	return r;
}

static rvgo_ret rvgo_unset(const RunqyVaultStore *s, const char *actor, const char *vault, const char *key) {
	rvgo_ret r = {0};
	r.rc = runqy_vault_unset_as(s, actor, vault, key, &r.err);
	return r;
}

static rvgo_ret rvgo_list_json(const RunqyVaultStore *s, char *dst, size_t cap) {
	rvgo_ret r = {0};
	char *json = NULL;
	r.rc = runqy_vault_list_json(s, &json, &r.err);
	rvgo_take(&r, json, dst, cap);
	return r;
}

static rvgo_ret rvgo_show_json(const RunqyVaultStore *s, const char *name, char *dst, size_t cap) {
	rvgo_ret r = {0};
	char *json = NULL;
	r.rc = runqy_vault_show_json(s, name, &json, &r.err);
	rvgo_take(&r, json, dst, cap);
	return r;
}

static rvgo_ret rvgo_resolve_json(const RunqyVaultStore *s, const char *actor, const char *names, size_t n, const char **spill, char *dst, size_t cap) {
	rvgo_ret r = {0};
	const char *local[RVGO_LIST_MAX];
	const char **list = rvgo_names(n <= RVGO_LIST_MAX ? local : spill, names, n);
	char *json = NULL;
	r.rc = runqy_vault_resolve_json_as(s, actor, list, n, &json, &r.err);
	rvgo_take(&r, json, dst, cap);
	return r;
}

static rvgo_ret rvgo_registration_payload(const RunqyVaultStore *s, const char *actor, const char *names, size_t n, const char **spill, const char *ref, char *dst, size_t cap) {
	rvgo_ret r = {0};
	const char *local[RVGO_LIST_MAX];
	const char **list = rvgo_names(n <= RVGO_LIST_MAX ? local : spill, names, n);
	char *json = NULL;
	r.rc = runqy_vault_registration_payload_as(s, actor, list, n, ref, &json, &r.err);
	rvgo_take(&r, json, dst, cap);
	return r;
}

static rvgo_ret rvgo_usage_json(const RunqyVaultStore *s, const char *names, size_t n, const char **spill, char *dst, size_t cap) {
	rvgo_ret r = {0};
	const char *local[RVGO_LIST_MAX];
	const char **list = rvgo_names(n <= RVGO_LIST_MAX ? local : spill, names, n);
	char *json = NULL;
	r.rc = runqy_vault_usage_json(s, list, n, &json, &r.err);
	rvgo_take(&r, json, dst, cap);
	return r;
}

static rvgo_ret rvgo_check_json(const RunqyVaultStore *s, const char *names, size_t n, const char **spill, uint32_t max_age, char *dst, size_t cap) {
	rvgo_ret r = {0};
	const char *local[RVGO_LIST_MAX];
	const char **list = rvgo_names(n <= RVGO_LIST_MAX ? local : spill, names, n);
	char *json = NULL;
	r.rc = runqy_vault_check_json(s, list, n, max_age, &json, &r.err);
	rvgo_take(&r, json, dst, cap);
	return r;
}

static rvgo_ret rvgo_rotate_key(const RunqyVaultStore *s, const char *key) {
	rvgo_ret r = {0};
	r.rc = runqy_vault_rotate_key(s, key, &r.err);
	return r;
}

static rvgo_ret rvgo_generate_key(char *dst, size_t cap) {
	rvgo_ret r = {0};
	char *key = NULL;
	r.rc = runqy_vault_generate_key(&key, &r.err);
	rvgo_take(&r, key, dst, cap);
	return r;
}

static rvgo_ret rvgo_mask(const char *value, char *dst, size_t cap) {
	rvgo_ret r = {0};
	char *masked = NULL;
	r.rc = runqy_vault_mask(value, &masked, &r.err);
	rvgo_take(&r, masked, dst, cap);
	return r;
}
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// scratchSize is the size of a pooled scratch buffer: room for the arguments
// and result of common calls (a registration payload of a few dozen entries).
const scratchSize = 8 << 10

// scratch is a call's working memory: its text arguments as NUL-terminated
// strings, then room for the string the call returns. It is Go memory that
// holds no Go pointers, which cgo lets C read and write for the duration of
// a call, so a call needs no C allocation and no cgo call per argument or
// to free its result. Buffers are reused through a pool; release zeroes what
// a call used (it may hold a secret) before the buffer goes back.
type scratch struct {
	buf   []byte // arguments, then a result copied in by C
	offs  [4]int // where the first arguments start in buf
	names int    // where the packed vault names start in buf
}

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, scratchSize)} }}

// nulError refuses text a C string cannot carry: C would see it cut short.
func nulError(what string) error {
	return &Error{Code: CodeInvalidArgument, Message: what + " holds a NUL byte, which a C string cannot carry"}
}

// pack returns a scratch holding parts (at most 4, at arg(0), arg(1), ...)
// and then the vault names (packed one after another, at namesArg), each
// NUL-terminated. Text holding a NUL byte is refused, vault names first.
func pack(names []string, parts ...string) (*scratch, error) {
	n := 0
	for _, v := range names {
		if strings.IndexByte(v, 0) >= 0 {
			return nil, nulError("a vault name")
		}
		n += len(v) + 1
	}
	for _, p := range parts {
		if strings.IndexByte(p, 0) >= 0 {
			return nil, nulError("an argument")
		}
		n += len(p) + 1
	}
	sc := scratchPool.Get().(*scratch)
	if cap(sc.buf) < n {
		// Too big for a pooled buffer: one of its own, the result still fits.
		scratchPool.Put(sc)
		sc = &scratch{buf: make([]byte, 0, n+scratchSize)}
	}
	for i, p := range parts {
		sc.offs[i] = len(sc.buf)
		sc.buf = append(sc.buf, p...)
		sc.buf = append(sc.buf, 0)
	}
	sc.names = len(sc.buf)
	for _, v := range names {
		sc.buf = append(sc.buf, v...)
		sc.buf = append(sc.buf, 0)
	}
	return sc, nil
}

// release zeroes what the call used and gives the buffer back.
func (sc *scratch) release() {
	clear(sc.buf)
	sc.buf = sc.buf[:0]
	if cap(sc.buf) == scratchSize {
		scratchPool.Put(sc)
	}
}

func (sc *scratch) arg(i int) *C.char { return (*C.char)(unsafe.Pointer(&sc.buf[sc.offs[i]])) }

// actorArg is argument i when the call was given an actor, else NULL (the handle's).
func (sc *scratch) actorArg(i int, given bool) *C.char {
	if !given {
		return nil
	}
	return sc.arg(i)
}

// namesArg is the packed vault names (NULL when there are none, so that an
// empty list is not a pointer past the end of the buffer).
func (sc *scratch) namesArg(n int) *C.char {
	if n == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&sc.buf[sc.names]))
}

// dst and room are where C copies a string result, and how much fits.
func (sc *scratch) dst() *C.char {
	if len(sc.buf) == cap(sc.buf) {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&sc.buf[:len(sc.buf)+1][len(sc.buf)]))
}

func (sc *scratch) room() C.size_t { return C.size_t(cap(sc.buf) - len(sc.buf)) }

// result is the string result of a successful call: a view of sc, valid
// until release, or, when it did not fit there, a copy of the library's
// string, which is then freed (wiped); owned says which.
func (sc *scratch) result(r *C.rvgo_ret) (b []byte, owned bool) {
	if r.out != nil {
		b = bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(r.out)), int(r.len)))
		C.runqy_vault_string_free(r.out)
		r.out = nil
		return b, true
	}
	start := len(sc.buf)
	sc.buf = sc.buf[:start+int(r.len)]
	return sc.buf[start:], false
}

// spill is C memory for the pointers to n vault names, when there are more
// than the shims keep on the C stack (nil otherwise); free it with freeSpill.
func spill(n int) **C.char {
	if n <= C.RVGO_LIST_MAX {
		return nil
	}
	return (**C.char)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
}

func freeSpill(p **C.char) {
	if p != nil {
		C.free(unsafe.Pointer(p))
	}
}

// Store is an open vault store.
type Store struct {
	mu     sync.RWMutex // calls hold it shared; Close holds it exclusively
	handle *C.RunqyVaultStore
}

// Open opens (creating if needed) the SQLite store at path with the master
// key from the environment (RUNQY_VAULT_MASTER_KEY, _FILE, _PREVIOUS). With
// no key configured the store opens disabled and vault calls fail with ErrDisabled.
func Open(path string) (*Store, error) { return open(path, nil) }

// OpenWithKey opens the store at path with an explicit base64 master key,
// which wins over the environment.
func OpenWithKey(path, masterKey string) (*Store, error) { return open(path, &masterKey) }

func open(path string, key *string) (*Store, error) {
	var sc *scratch
	var err error
	if key == nil {
		sc, err = pack(nil, path)
	} else {
		sc, err = pack(nil, path, *key)
	}
	if err != nil {
		return nil, err
	}
	defer sc.release()
	var ckey *C.char
	if key != nil {
		ckey = sc.arg(1)
	}
	r := C.rvgo_open(sc.arg(0), ckey)
	if err := check(r.rc, r.err); err != nil {
		return nil, err
	}
	s := &Store{handle: r.store}
	runtime.SetFinalizer(s, (*Store).Close)
	return s, nil
}

// Close frees the store. It waits for calls in progress; later calls fail
// with ErrClosed. Closing twice is fine.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handle != nil {
		C.runqy_vault_store_free(s.handle)
		s.handle = nil
		runtime.SetFinalizer(s, nil)
	}
	return nil
}

// call runs f (one shim) with the live handle, or returns ErrClosed; its
// error is the call's failure, if any.
func (s *Store) call(f func(h *C.RunqyVaultStore) C.rvgo_ret) (C.rvgo_ret, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.handle == nil {
		return C.rvgo_ret{}, ErrClosed
	}
	r := f(s.handle)
	return r, check(r.rc, r.err)
}

// check turns a result and its message into an error, freeing the message.
func check(rc C.RunqyVaultResult, cerr *C.char) error {
	if rc == C.RUNQY_VAULT_OK {
		return nil
	}
	e := &Error{Code: Code(rc)}
	if cerr != nil {
		e.Message = C.GoString(cerr)
		C.runqy_vault_string_free(cerr)
	}
	return e
}

// Enabled says whether the store has a master key.
func (s *Store) Enabled() (bool, error) {
	r, err := s.call(func(h *C.RunqyVaultStore) C.rvgo_ret {
		return C.rvgo_enabled(h)
	})
	return bool(r.enabled), err
}

// CreateVault creates a vault.
func (s *Store) CreateVault(name, description string) error {
	sc, err := pack(nil, name, description)
	if err != nil {
		return err
	}
	defer sc.release()
	_, err = s.call(func(h *C.RunqyVaultStore) C.rvgo_ret {
		return C.rvgo_create(h, sc.arg(0), sc.arg(1))
	})
	return err
}

// DeleteVault deletes a vault and its entries.
func (s *Store) DeleteVault(name string) error {
	sc, err := pack(nil, name)
	if err != nil {
		return err
	}
	defer sc.release()
	_, err = s.call(func(h *C.RunqyVaultStore) C.rvgo_ret {
		return C.rvgo_delete(h, sc.arg(0))
	})
	return err
}

// Set sets key to value in vault; secret values are masked in listings.
// WithActor names who writes it in the audit log and the history.
func (s *Store) Set(vault, key, value string, secret bool, opts ...CallOption) error {
	if strings.IndexByte(value, 0) >= 0 {
		// SPEC §4: a value never holds a NUL byte (it cannot become an environment variable).
		return &Error{Code: CodeInvalidValue, Message: "invalid value for key '" + key + "' in vault '" + vault + "': it holds a NUL byte"}
	}
	actor, hasActor := actorOf(opts)
	sc, err := pack(nil, vault, key, value, actor)
	if err != nil {
		return err
	}
	defer sc.release()
	_, err = s.call(func(h *C.RunqyVaultStore) C.rvgo_ret {
		return C.rvgo_set(h, sc.actorArg(3, hasActor), sc.arg(0), sc.arg(1), sc.arg(2), C.bool(secret))
	})
	return err
}

// Get returns the decrypted value of key in vault. WithActor names who
// reads it in the audit log.
func (s *Store) Get(vault, key string, opts ...CallOption) (string, error) {
	actor, hasActor := actorOf(opts)
	sc, err := pack(nil, vault, key, actor)
	if err != nil {
		return "", err
	}
	defer sc.release()
	r, err := s.call(func(h *C.RunqyVaultStore) C.rvgo_ret {
		return C.rvgo_get(h, sc.actorArg(2, hasActor), sc.arg(0), sc.arg(1), sc.dst(), sc.room())
	})
	if err != nil {
		return "", err
	}
	value, _ := sc.result(&r)
	return string(value), nil
}

// Unset removes key from vault.
func (s *Store) Unset(vault, key string, opts ...CallOption) error {
	actor, hasActor := actorOf(opts)
	sc, err := pack(nil, vault, key, actor)
	if err != nil {
		return err
	}
	defer sc.release()
	_, err = s.call(func(h *C.RunqyVaultStore) C.rvgo_ret {
		return C.rvgo_unset(h, sc.actorArg(2, hasActor), sc.arg(0), sc.arg(1))
	})
	return err
}

// VaultSummary is one line of ListVaults.
type VaultSummary struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	EntryCount  uint64 `json:"entry_count"`
}

// Entry is one entry as Show lists it (Value masked when IsSecret).
type Entry struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	IsSecret  bool   `json:"is_secret"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

// VaultDetail is a vault as Show shows it, entries sorted by key.
type VaultDetail struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
	Entries     []Entry `json:"entries"`
}

// Provenance says which vault a resolved key came from and which it shadowed.
type Provenance struct {
	Vault    string   `json:"vault"`
	Shadowed []string `json:"shadowed"`
}

// Resolved is the merge of several vaults.
type Resolved struct {
	Values  map[string]string     `json:"values"`
	Sources map[string]Provenance `json:"sources"`
}

// Payload is the registration payload a server hands a worker. Marshalled
// with encoding/json it is exactly SPEC §7's JSON (keys sorted, empty members
// left out, no warnings).
type Payload struct {
	GitToken string            `json:"git_token,omitempty"`
	Vaults   map[string]string `json:"vaults,omitempty"`
	Warnings []string          `json:"-"`
}

// jsonCall runs f, which leaves JSON in sc, decodes it into v and releases sc.
func (s *Store) jsonCall(sc *scratch, v any, f func(h *C.RunqyVaultStore) C.rvgo_ret) error {
	defer sc.release()
	r, err := s.call(f)
	if err != nil {
		return err
	}
	raw, _ := sc.result(&r)
	return json.Unmarshal(raw, v)
}

// ListVaults lists the vaults sorted by name.
func (s *Store) ListVaults() ([]VaultSummary, error) {
	sc, err := pack(nil)
	if err != nil {
		return nil, err
	}
	var out []VaultSummary
	err = s.jsonCall(sc, &out, func(h *C.RunqyVaultStore) C.rvgo_ret {
		return C.rvgo_list_json(h, sc.dst(), sc.room())
	})
	return out, err
}

// Show shows a vault, secret values masked.
func (s *Store) Show(name string) (*VaultDetail, error) {
	sc, err := pack(nil, name)
	if err != nil {
		return nil, err
	}
	var out VaultDetail
	err = s.jsonCall(sc, &out, func(h *C.RunqyVaultStore) C.rvgo_ret {
		return C.rvgo_show_json(h, sc.arg(0), sc.dst(), sc.room())
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Resolve merges vaults in order (later ones override earlier ones).
func (s *Store) Resolve(vaults []string, opts ...CallOption) (*Resolved, error) {
	actor, hasActor := actorOf(opts)
	sc, err := pack(vaults, actor)
	if err != nil {
		return nil, err
	}
	list := spill(len(vaults))
	defer freeSpill(list)
	var out Resolved
	err = s.jsonCall(sc, &out, func(h *C.RunqyVaultStore) C.rvgo_ret {
		return C.rvgo_resolve_json(h, sc.actorArg(0, hasActor), sc.namesArg(len(vaults)), C.size_t(len(vaults)), list, sc.dst(), sc.room())
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// RegistrationPayload builds the payload for a queue listing vaults.
// gitTokenRef is a vault://<vault>/<key> reference or "" for none; a bad one
// leaves the token out and adds a warning. A server passes
// WithActor("worker:<id> queue:<name>"), so the audit log says which
// worker got which secrets.
func (s *Store) RegistrationPayload(vaults []string, gitTokenRef string, opts ...CallOption) (*Payload, error) {
	// The decoded strings are copies, so a JSON too big for the scratch
	// buffer (a copy of its own) is wiped here as the buffer is on release.
	var wire payloadWire
	err := s.payload(vaults, gitTokenRef, opts, func(raw []byte, owned bool) error {
		err := json.Unmarshal(raw, &wire)
		if owned {
			clear(raw)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out := Payload(wire)
	return &out, nil
}

// RegistrationPayloadJSON is RegistrationPayload as the library's JSON
// (SPEC §7, plus a "warnings" array member when there are warnings), for a
// server that forwards it without decoding.
func (s *Store) RegistrationPayloadJSON(vaults []string, gitTokenRef string, opts ...CallOption) ([]byte, error) {
	var out []byte
	err := s.payload(vaults, gitTokenRef, opts, func(raw []byte, owned bool) error {
		if out = raw; !owned {
			out = bytes.Clone(raw)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// payload gets the payload's JSON and hands it to use, with whether use may
// keep it (otherwise it is a view of memory wiped when use returns).
func (s *Store) payload(vaults []string, gitTokenRef string, opts []CallOption, use func(raw []byte, owned bool) error) error {
	actor, hasActor := actorOf(opts)
	sc, err := pack(vaults, gitTokenRef, actor)
	if err != nil {
		return err
	}
	defer sc.release()
	list := spill(len(vaults))
	defer freeSpill(list)
	var cref *C.char
	if gitTokenRef != "" {
		cref = sc.arg(0)
	}
	r, err := s.call(func(h *C.RunqyVaultStore) C.rvgo_ret {
		return C.rvgo_registration_payload(h, sc.actorArg(1, hasActor), sc.namesArg(len(vaults)), C.size_t(len(vaults)), list, cref, sc.dst(), sc.room())
	})
	if err != nil {
		return err
	}
	return use(sc.result(&r))
}

// UnmarshalJSON reads the library's payload JSON, warnings included
// (Warnings is hidden from Marshal, which gives the worker's JSON).
func (p *Payload) UnmarshalJSON(data []byte) error {
	var wire payloadWire
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	*p = Payload(wire)
	return nil
}

// payloadWire is Payload as the library's JSON has it.
type payloadWire struct {
	GitToken string            `json:"git_token"`
	Vaults   map[string]string `json:"vaults"`
	Warnings []string          `json:"warnings"`
}

// VaultUsage is one vault as Usage shows it: the queues whose
// deployment.vaults list it, and those whose git_token points into it.
type VaultUsage struct {
	Vault      string   `json:"vault"`
	Queues     []string `json:"queues"`
	GitTokenOf []string `json:"git_token_of"`
}

// Usage says which queues use which vault (SPEC §14).
type Usage struct {
	// Vaults is every vault of the store, sorted by name.
	Vaults []VaultUsage `json:"vaults"`
	// Missing is every vault a queue names that does not exist.
	Missing []VaultUsage `json:"missing"`
	// Problems are what could not be read in the configurations.
	Problems []string `json:"problems"`
}

// Finding is one finding of Check; Queue, Vault and Key are "" when it
// concerns none. No finding holds a value.
type Finding struct {
	Severity string `json:"severity"` // "error", "warning" or "note"
	Check    string `json:"check"`
	Queue    string `json:"queue"`
	Vault    string `json:"vault"`
	Key      string `json:"key"`
	Message  string `json:"message"`
}

// String is the finding as the CLI prints it: "error: ...".
func (f Finding) String() string { return f.Severity + ": " + f.Message }

// CheckReport is what Check finds.
type CheckReport struct {
	Findings []Finding `json:"findings"`
	Errors   uint64    `json:"errors"`
	Warnings uint64    `json:"warnings"`
}

// Usage reads the queue configurations at configPaths (YAML files or
// directories; none: QUEUE_WORKERS_DIR when set) and the runqy server's
// queues table, when the database has one, and says which queues use each
// vault. It needs no master key.
func (s *Store) Usage(configPaths []string) (*Usage, error) {
	sc, err := pack(configPaths)
	if err != nil {
		return nil, err
	}
	list := spill(len(configPaths))
	defer freeSpill(list)
	var out Usage
	err = s.jsonCall(sc, &out, func(h *C.RunqyVaultStore) C.rvgo_ret {
		return C.rvgo_usage_json(h, sc.namesArg(len(configPaths)), C.size_t(len(configPaths)), list, sc.dst(), sc.room())
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Check finds every problem that keeps workers from receiving their
// secrets (SPEC §14), with the queues read as Usage reads them; entries not
// updated for more than maxAgeDays days are reported (0: 90). Findings are
// data: a store with problems gives a report with Errors > 0 and a nil error.
func (s *Store) Check(configPaths []string, maxAgeDays uint32) (*CheckReport, error) {
	sc, err := pack(configPaths)
	if err != nil {
		return nil, err
	}
	list := spill(len(configPaths))
	defer freeSpill(list)
	var out CheckReport
	err = s.jsonCall(sc, &out, func(h *C.RunqyVaultStore) C.rvgo_ret {
		return C.rvgo_check_json(h, sc.namesArg(len(configPaths)), C.size_t(len(configPaths)), list, C.uint32_t(maxAgeDays), sc.dst(), sc.room())
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateKey re-encrypts every entry under newKey (base64); afterwards the
// old key alone no longer opens the store.
func (s *Store) RotateKey(newKey string) error {
	sc, err := pack(nil, newKey)
	if err != nil {
		return err
	}
	defer sc.release()
	_, err = s.call(func(h *C.RunqyVaultStore) C.rvgo_ret {
		return C.rvgo_rotate_key(h, sc.arg(0))
	})
	return err
}

// GenerateKey returns a new random master key as base64.
func GenerateKey() (string, error) {
	sc, err := pack(nil)
	if err != nil {
		return "", err
	}
	defer sc.release()
	r := C.rvgo_generate_key(sc.dst(), sc.room())
	if err := check(r.rc, r.err); err != nil {
		return "", err
	}
	key, _ := sc.result(&r)
	return string(key), nil
}

// Mask masks a value as listings show it ("sk-proj-abc123xx" -> "sk****xx").
func Mask(value string) string {
	sc, err := pack(nil, value)
	if err != nil {
		return "****" // a NUL byte: mask it whole rather than show any of it
	}
	defer sc.release()
	r := C.rvgo_mask(sc.arg(0), sc.dst(), sc.room())
	if err := check(r.rc, r.err); err != nil {
		// Only non-UTF-8 input fails; mask it whole rather than show it.
		return "****"
	}
	masked, _ := sc.result(&r)
	return string(masked)
}

// Version is the library version.
func Version() string { return C.GoString(C.runqy_vault_version()) }
