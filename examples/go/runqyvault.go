// Package runqyvault is the runqy job queue's secret vault for Go, over the
// C ABI of runqy-vault (include/runqy_vault.h) with cgo.
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
#cgo CFLAGS: -I${SRCDIR}/../../include
#include <stdlib.h>
#include <string.h>
#include "runqy_vault.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// cArgs holds a call's text arguments as NUL-terminated strings in one Go
// buffer, passed to C for the duration of the call: no C allocation and no
// extra cgo call per argument. wipe zeroes it (it may hold a secret).
type cArgs struct {
	buf  []byte
	offs []int
}

// args packs parts; a part holding a NUL byte cannot be a C string and is
// refused, since C would silently see it cut short.
func args(parts ...string) (*cArgs, error) {
	a := &cArgs{offs: make([]int, len(parts))}
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	a.buf = make([]byte, 0, n)
	for i, p := range parts {
		if strings.IndexByte(p, 0) >= 0 {
			return nil, &Error{Code: CodeInvalidArgument, Message: "an argument holds a NUL byte, which a C string cannot carry"}
		}
		a.offs[i] = len(a.buf)
		a.buf = append(a.buf, p...)
		a.buf = append(a.buf, 0)
	}
	return a, nil
}

func (a *cArgs) at(i int) *C.char { return (*C.char)(unsafe.Pointer(&a.buf[a.offs[i]])) }

func (a *cArgs) wipe() { clear(a.buf) }

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
	parts := []string{path}
	if key != nil {
		parts = append(parts, *key)
	}
	a, err := args(parts...)
	if err != nil {
		return nil, err
	}
	defer a.wipe()
	var ckey *C.char
	if key != nil {
		ckey = a.at(1)
	}
	var handle *C.RunqyVaultStore
	var cerr *C.char
	if err := check(C.runqy_vault_store_open(a.at(0), ckey, &handle, &cerr), cerr); err != nil {
		return nil, err
	}
	s := &Store{handle: handle}
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

// call runs f with the live handle, or returns ErrClosed.
func (s *Store) call(f func(h *C.RunqyVaultStore, cerr **C.char) C.RunqyVaultResult) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.handle == nil {
		return ErrClosed
	}
	var cerr *C.char
	return check(f(s.handle, &cerr), cerr)
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

// takeString copies a string the library returned and frees (wipes) it.
func takeString(p *C.char) string {
	s := C.GoString(p)
	C.runqy_vault_string_free(p)
	return s
}

// Enabled says whether the store has a master key.
func (s *Store) Enabled() (bool, error) {
	var enabled C.bool
	err := s.call(func(h *C.RunqyVaultStore, cerr **C.char) C.RunqyVaultResult {
		return C.runqy_vault_store_enabled(h, &enabled, cerr)
	})
	return bool(enabled), err
}

// CreateVault creates a vault.
func (s *Store) CreateVault(name, description string) error {
	a, err := args(name, description)
	if err != nil {
		return err
	}
	return s.call(func(h *C.RunqyVaultStore, cerr **C.char) C.RunqyVaultResult {
		return C.runqy_vault_create(h, a.at(0), a.at(1), cerr)
	})
}

// DeleteVault deletes a vault and its entries.
func (s *Store) DeleteVault(name string) error {
	a, err := args(name)
	if err != nil {
		return err
	}
	return s.call(func(h *C.RunqyVaultStore, cerr **C.char) C.RunqyVaultResult {
		return C.runqy_vault_delete(h, a.at(0), cerr)
	})
}

// Set sets key to value in vault; secret values are masked in listings.
func (s *Store) Set(vault, key, value string, secret bool) error {
	a, err := args(vault, key, value)
	if err != nil {
		if strings.IndexByte(value, 0) >= 0 {
			// SPEC §4: a value never holds a NUL byte (it cannot become an environment variable).
			return &Error{Code: CodeInvalidValue, Message: "invalid value for key '" + key + "' in vault '" + vault + "': it holds a NUL byte"}
		}
		return err
	}
	defer a.wipe()
	return s.call(func(h *C.RunqyVaultStore, cerr **C.char) C.RunqyVaultResult {
		return C.runqy_vault_set(h, a.at(0), a.at(1), a.at(2), C.bool(secret), cerr)
	})
}

// Get returns the decrypted value of key in vault.
func (s *Store) Get(vault, key string) (string, error) {
	a, err := args(vault, key)
	if err != nil {
		return "", err
	}
	var out *C.char
	err = s.call(func(h *C.RunqyVaultStore, cerr **C.char) C.RunqyVaultResult {
		return C.runqy_vault_get(h, a.at(0), a.at(1), &out, cerr)
	})
	if err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Unset removes key from vault.
func (s *Store) Unset(vault, key string) error {
	a, err := args(vault, key)
	if err != nil {
		return err
	}
	return s.call(func(h *C.RunqyVaultStore, cerr **C.char) C.RunqyVaultResult {
		return C.runqy_vault_unset(h, a.at(0), a.at(1), cerr)
	})
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

func (s *Store) jsonCall(v any, f func(h *C.RunqyVaultStore, out **C.char, cerr **C.char) C.RunqyVaultResult) error {
	var out *C.char
	err := s.call(func(h *C.RunqyVaultStore, cerr **C.char) C.RunqyVaultResult {
		return f(h, &out, cerr)
	})
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(takeString(out)), v)
}

// ListVaults lists the vaults sorted by name.
func (s *Store) ListVaults() ([]VaultSummary, error) {
	var out []VaultSummary
	err := s.jsonCall(&out, func(h *C.RunqyVaultStore, o **C.char, cerr **C.char) C.RunqyVaultResult {
		return C.runqy_vault_list_json(h, o, cerr)
	})
	return out, err
}

// Show shows a vault, secret values masked.
func (s *Store) Show(name string) (*VaultDetail, error) {
	a, err := args(name)
	if err != nil {
		return nil, err
	}
	var out VaultDetail
	err = s.jsonCall(&out, func(h *C.RunqyVaultStore, o **C.char, cerr **C.char) C.RunqyVaultResult {
		return C.runqy_vault_show_json(h, a.at(0), o, cerr)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// cList is a C array of C strings, freed by free.
type cList struct {
	ptr   **C.char
	items []*C.char
}

func newCList(names []string) (*cList, error) {
	l := &cList{}
	if len(names) == 0 {
		return l, nil
	}
	for _, n := range names {
		if strings.IndexByte(n, 0) >= 0 {
			return nil, &Error{Code: CodeInvalidArgument, Message: "a vault name holds a NUL byte, which a C string cannot carry"}
		}
	}
	l.ptr = (**C.char)(C.malloc(C.size_t(len(names)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	l.items = unsafe.Slice(l.ptr, len(names))
	for i, n := range names {
		l.items[i] = C.CString(n)
	}
	return l, nil
}

func (l *cList) free() {
	for _, p := range l.items {
		C.free(unsafe.Pointer(p))
	}
	if l.ptr != nil {
		C.free(unsafe.Pointer(l.ptr))
	}
}

// Resolve merges vaults in order (later ones override earlier ones).
func (s *Store) Resolve(vaults []string) (*Resolved, error) {
	list, err := newCList(vaults)
	if err != nil {
		return nil, err
	}
	defer list.free()
	var out Resolved
	err = s.jsonCall(&out, func(h *C.RunqyVaultStore, o **C.char, cerr **C.char) C.RunqyVaultResult {
		return C.runqy_vault_resolve_json(h, list.ptr, C.size_t(len(vaults)), o, cerr)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// RegistrationPayload builds the payload for a queue listing vaults.
// gitTokenRef is a vault://<vault>/<key> reference or "" for none; a bad one
// leaves the token out and adds a warning.
func (s *Store) RegistrationPayload(vaults []string, gitTokenRef string) (*Payload, error) {
	raw, err := s.RegistrationPayloadJSON(vaults, gitTokenRef)
	if err != nil {
		return nil, err
	}
	var out Payload
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RegistrationPayloadJSON is RegistrationPayload as the library's JSON
// (SPEC §7, plus a "warnings" array member when there are warnings), for a
// server that forwards it without decoding.
func (s *Store) RegistrationPayloadJSON(vaults []string, gitTokenRef string) ([]byte, error) {
	list, err := newCList(vaults)
	if err != nil {
		return nil, err
	}
	defer list.free()
	a, err := args(gitTokenRef)
	if err != nil {
		return nil, err
	}
	var cref *C.char
	if gitTokenRef != "" {
		cref = a.at(0)
	}
	var out *C.char
	err = s.call(func(h *C.RunqyVaultStore, cerr **C.char) C.RunqyVaultResult {
		return C.runqy_vault_registration_payload(h, list.ptr, C.size_t(len(vaults)), cref, &out, cerr)
	})
	if err != nil {
		return nil, err
	}
	raw := C.GoBytes(unsafe.Pointer(out), C.int(C.strlen(out)))
	C.runqy_vault_string_free(out)
	return raw, nil
}

// UnmarshalJSON reads the library's payload JSON, warnings included
// (Warnings is hidden from Marshal, which gives the worker's JSON).
func (p *Payload) UnmarshalJSON(data []byte) error {
	var wire struct {
		GitToken string            `json:"git_token"`
		Vaults   map[string]string `json:"vaults"`
		Warnings []string          `json:"warnings"`
	}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	*p = Payload{GitToken: wire.GitToken, Vaults: wire.Vaults, Warnings: wire.Warnings}
	return nil
}

// RotateKey re-encrypts every entry under newKey (base64); afterwards the
// old key alone no longer opens the store.
func (s *Store) RotateKey(newKey string) error {
	a, err := args(newKey)
	if err != nil {
		return err
	}
	defer a.wipe()
	return s.call(func(h *C.RunqyVaultStore, cerr **C.char) C.RunqyVaultResult {
		return C.runqy_vault_rotate_key(h, a.at(0), cerr)
	})
}

// GenerateKey returns a new random master key as base64.
func GenerateKey() (string, error) {
	var out, cerr *C.char
	if err := check(C.runqy_vault_generate_key(&out, &cerr), cerr); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Mask masks a value as listings show it ("sk-proj-abc123xx" -> "sk****xx").
func Mask(value string) string {
	a, err := args(value)
	if err != nil {
		return "****" // a NUL byte: mask it whole rather than show any of it
	}
	defer a.wipe()
	var out, cerr *C.char
	if err := check(C.runqy_vault_mask(a.at(0), &out, &cerr), cerr); err != nil {
		// Only non-UTF-8 input fails; mask it whole rather than show it.
		return "****"
	}
	return takeString(out)
}

// Version is the library version.
func Version() string { return C.GoString(C.runqy_vault_version()) }
