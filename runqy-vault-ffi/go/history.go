package runqyvault

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "runqy_vault.h"

// The history calls' shims, as runqyvault.go's: one cgo call each, the
// outcome by value, a string result copied into the caller's buffer (Go
// memory) and freed (wiped) here when it fits.

typedef struct {
	RunqyVaultResult rc;
	char *err;        // the failure's message (Go frees it), or NULL
	char *out;        // a string result that did not fit dst (Go copies and frees it), or NULL
	size_t len;       // the string result's length, in dst or at out
	int64_t version;  // the new version of a write
	uint64_t count;   // versions pruned
	uint32_t limit;   // the history limit
} rvgo_hist_ret;

static void rvgo_hist_take(rvgo_hist_ret *r, char *s, char *dst, size_t cap) {
	if (s == NULL) return;
	r->len = strlen(s);
	if (r->len > cap) {
		r->out = s;
		return;
	}
	if (r->len > 0) memcpy(dst, s, r->len);
	runqy_vault_string_free(s);
}

static rvgo_hist_ret rvgo_history_json(const RunqyVaultStore *s, const char *vault, const char *key, char *dst, size_t cap) {
	rvgo_hist_ret r = {0};
	char *json = NULL;
	r.rc = runqy_vault_history_json(s, vault, key, &json, &r.err);
	rvgo_hist_take(&r, json, dst, cap);
	return r;
}

static rvgo_hist_ret rvgo_get_version(const RunqyVaultStore *s, const char *vault, const char *key, int64_t version, char *dst, size_t cap) {
	rvgo_hist_ret r = {0};
	char *value = NULL;
	r.rc = runqy_vault_get_version(s, vault, key, version, &value, &r.err);
	rvgo_hist_take(&r, value, dst, cap);
	return r;
}

static rvgo_hist_ret rvgo_set_cas(const RunqyVaultStore *s, const char *vault, const char *key, const char *value, bool secret, int64_t cas) {
	rvgo_hist_ret r = {0};
	r.rc = runqy_vault_set_cas(s, vault, key, value, secret, cas, &r.version, &r.err);
	return r;
}

static rvgo_hist_ret rvgo_rollback(const RunqyVaultStore *s, const char *vault, const char *key, int64_t version) {
	rvgo_hist_ret r = {0};
	r.rc = runqy_vault_rollback(s, vault, key, version, &r.version, &r.err);
	return r;
}

static rvgo_hist_ret rvgo_restore(const RunqyVaultStore *s, const char *vault, const char *key) {
	rvgo_hist_ret r = {0};
	r.rc = runqy_vault_restore(s, vault, key, &r.version, &r.err);
	return r;
}

static rvgo_hist_ret rvgo_purge(const RunqyVaultStore *s, const char *vault, const char *key, char *dst, size_t cap) {
	rvgo_hist_ret r = {0};
	char *json = NULL;
	r.rc = runqy_vault_purge(s, vault, key, &json, &r.err);
	rvgo_hist_take(&r, json, dst, cap);
	return r;
}

static rvgo_hist_ret rvgo_history_limit(const RunqyVaultStore *s) {
	rvgo_hist_ret r = {0};
	r.rc = runqy_vault_history_limit(s, &r.limit, &r.err);
	return r;
}

static rvgo_hist_ret rvgo_set_history_limit(const RunqyVaultStore *s, int64_t limit) {
	rvgo_hist_ret r = {0};
	r.rc = runqy_vault_set_history_limit(s, limit, &r.count, &r.err);
	return r;
}
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"strings"
	"unsafe"
)

// HistoryEntry is one version of an entry as History lists it, newest
// first; Value is masked when IsSecret.
type HistoryEntry struct {
	// Version is nil for a current value that another program wrote
	// straight into the upstream tables: it has no version.
	Version   *int64 `json:"version"`
	Value     string `json:"value"`
	IsSecret  bool   `json:"is_secret"`
	CreatedAt string `json:"created_at"`
	// Actor is who wrote the version, when the audit log knows; nil until then.
	Actor *string `json:"actor"`
	// State is "current", "replaced" or "removed".
	State string `json:"state"`
}

// PurgeReport says what Purge or PurgeVault destroyed. Warnings say what
// did not go as promised although the purge is committed (SQLite's log
// could not be truncated yet).
type PurgeReport struct {
	Versions     uint64   `json:"versions"`
	Entries      uint64   `json:"entries"`
	VaultDeleted bool     `json:"vault_deleted"`
	Warnings     []string `json:"warnings"`
}

// callHistory runs f (one history shim) with the live handle, or returns ErrClosed.
func (s *Store) callHistory(f func(h *C.RunqyVaultStore) C.rvgo_hist_ret) (C.rvgo_hist_ret, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.handle == nil {
		return C.rvgo_hist_ret{}, ErrClosed
	}
	r := f(s.handle)
	return r, check(r.rc, r.err)
}

// historyResult is the string result of a history shim, as scratch.result
// gives it for the other calls: a view of sc, or a copy of a string that
// did not fit, which is then freed (wiped).
func (sc *scratch) historyResult(r *C.rvgo_hist_ret) (b []byte, owned bool) {
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

// History lists the versions of key in vault, newest first, values masked.
// The vault need not exist any more: versions are kept by its name until a purge.
func (s *Store) History(vault, key string) ([]HistoryEntry, error) {
	sc, err := pack(nil, vault, key)
	if err != nil {
		return nil, err
	}
	defer sc.release()
	r, err := s.callHistory(func(h *C.RunqyVaultStore) C.rvgo_hist_ret {
		return C.rvgo_history_json(h, sc.arg(0), sc.arg(1), sc.dst(), sc.room())
	})
	if err != nil {
		return nil, err
	}
	raw, _ := sc.historyResult(&r)
	var out []HistoryEntry
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetVersion returns the decrypted value of version version of key in
// vault, current or not. ErrVersionNotFound says which versions are kept.
func (s *Store) GetVersion(vault, key string, version int64) (string, error) {
	sc, err := pack(nil, vault, key)
	if err != nil {
		return "", err
	}
	defer sc.release()
	r, err := s.callHistory(func(h *C.RunqyVaultStore) C.rvgo_hist_ret {
		return C.rvgo_get_version(h, sc.arg(0), sc.arg(1), C.int64_t(version), sc.dst(), sc.room())
	})
	if err != nil {
		return "", err
	}
	value, _ := sc.historyResult(&r)
	return string(value), nil
}

// SetCAS sets key to value in vault only if the entry's current version is
// cas (0: only if it does not exist), and returns the new version; otherwise
// ErrVersionConflict, whose message names the current version.
func (s *Store) SetCAS(vault, key, value string, secret bool, cas int64) (int64, error) {
	if strings.IndexByte(value, 0) >= 0 {
		// SPEC §4: a value never holds a NUL byte (it cannot become an environment variable).
		return 0, &Error{Code: CodeInvalidValue, Message: "invalid value for key '" + key + "' in vault '" + vault + "': it holds a NUL byte"}
	}
	sc, err := pack(nil, vault, key, value)
	if err != nil {
		return 0, err
	}
	defer sc.release()
	r, err := s.callHistory(func(h *C.RunqyVaultStore) C.rvgo_hist_ret {
		return C.rvgo_set_cas(h, sc.arg(0), sc.arg(1), sc.arg(2), C.bool(secret), C.int64_t(cas))
	})
	return int64(r.version), err
}

// Rollback makes version version of key in vault current again, as a new
// version, which it returns. A removed entry comes back with Restore.
func (s *Store) Rollback(vault, key string, version int64) (int64, error) {
	sc, err := pack(nil, vault, key)
	if err != nil {
		return 0, err
	}
	defer sc.release()
	r, err := s.callHistory(func(h *C.RunqyVaultStore) C.rvgo_hist_ret {
		return C.rvgo_rollback(h, sc.arg(0), sc.arg(1), C.int64_t(version))
	})
	return int64(r.version), err
}

// Restore brings back the removed entry key of vault: its last version
// becomes current again as a new version, which it returns.
func (s *Store) Restore(vault, key string) (int64, error) {
	sc, err := pack(nil, vault, key)
	if err != nil {
		return 0, err
	}
	defer sc.release()
	r, err := s.callHistory(func(h *C.RunqyVaultStore) C.rvgo_hist_ret {
		return C.rvgo_restore(h, sc.arg(0), sc.arg(1))
	})
	return int64(r.version), err
}

// Purge destroys the entry key of vault and every version of it. It cannot be undone.
func (s *Store) Purge(vault, key string) (*PurgeReport, error) {
	return s.purge(vault, &key)
}

// PurgeVault destroys vault (if it still exists), its entries and all their
// versions. It cannot be undone.
func (s *Store) PurgeVault(vault string) (*PurgeReport, error) {
	return s.purge(vault, nil)
}

func (s *Store) purge(vault string, key *string) (*PurgeReport, error) {
	parts := []string{vault}
	if key != nil {
		parts = append(parts, *key)
	}
	sc, err := pack(nil, parts...)
	if err != nil {
		return nil, err
	}
	defer sc.release()
	var ckey *C.char
	if key != nil {
		ckey = sc.arg(1)
	}
	r, err := s.callHistory(func(h *C.RunqyVaultStore) C.rvgo_hist_ret {
		return C.rvgo_purge(h, sc.arg(0), ckey, sc.dst(), sc.room())
	})
	if err != nil {
		return nil, err
	}
	raw, _ := sc.historyResult(&r)
	var out PurgeReport
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// HistoryLimit is how many versions of each key the store keeps, the
// current one included (10 unless set; 1 keeps only current values).
func (s *Store) HistoryLimit() (uint32, error) {
	r, err := s.callHistory(func(h *C.RunqyVaultStore) C.rvgo_hist_ret {
		return C.rvgo_history_limit(h)
	})
	return uint32(r.limit), err
}

// SetHistoryLimit sets how many versions of each key are kept (at least 1);
// lowering it prunes every key at once. It returns how many versions were deleted.
func (s *Store) SetHistoryLimit(limit int64) (uint64, error) {
	r, err := s.callHistory(func(h *C.RunqyVaultStore) C.rvgo_hist_ret {
		return C.rvgo_set_history_limit(h, C.int64_t(limit))
	})
	return uint64(r.count), err
}
