package runqyvault

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "runqy_vault.h"

// The audit calls' shims, as runqyvault.go's: one cgo call each, the outcome
// by value, a string result copied into the caller's buffer when it fits.

typedef struct {
	RunqyVaultResult rc;
	char *err;       // the failure's message (Go frees it), or NULL
	char *out;       // a string result that did not fit dst (Go copies and frees it), or NULL
	size_t len;      // the string result's length, in dst or at out
	uint64_t count;  // records verified or pruned
	bool on;         // audit-reads
	bool none;       // no string result (no problem found)
} rvgo_audit_ret;

static void rvgo_audit_take(rvgo_audit_ret *r, char *s, char *dst, size_t cap) {
	if (s == NULL) {
		r->none = true;
		return;
	}
	r->len = strlen(s);
	if (r->len > cap) {
		r->out = s;
		return;
	}
	if (r->len > 0) memcpy(dst, s, r->len);
	runqy_vault_string_free(s);
}

static rvgo_audit_ret rvgo_set_actor(const RunqyVaultStore *s, const char *actor) {
	rvgo_audit_ret r = {0};
	r.rc = runqy_vault_store_set_actor(s, actor, &r.err);
	return r;
}

static rvgo_audit_ret rvgo_audit_log_json(const RunqyVaultStore *s, const char *filter, char *dst, size_t cap) {
	rvgo_audit_ret r = {0};
	char *json = NULL;
	r.rc = runqy_vault_audit_log_json(s, filter, &json, &r.err);
	rvgo_audit_take(&r, json, dst, cap);
	return r;
}

static rvgo_audit_ret rvgo_audit_verify(const RunqyVaultStore *s) {
	rvgo_audit_ret r = {0};
	r.rc = runqy_vault_audit_verify(s, &r.count, &r.err);
	return r;
}

static rvgo_audit_ret rvgo_audit_prune(const RunqyVaultStore *s, const char *before) {
	rvgo_audit_ret r = {0};
	r.rc = runqy_vault_audit_prune(s, before, &r.count, &r.err);
	return r;
}

static rvgo_audit_ret rvgo_audit_reads(const RunqyVaultStore *s) {
	rvgo_audit_ret r = {0};
	r.rc = runqy_vault_audit_reads(s, &r.on, &r.err);
	return r;
}

static rvgo_audit_ret rvgo_set_audit_reads(const RunqyVaultStore *s, bool on) {
	rvgo_audit_ret r = {0};
	r.rc = runqy_vault_set_audit_reads(s, on, &r.err);
	return r;
}

static rvgo_audit_ret rvgo_audit_problem(const RunqyVaultStore *s, char *dst, size_t cap) {
	rvgo_audit_ret r = {0};
	char *problem = NULL;
	r.rc = runqy_vault_audit_problem(s, &problem, &r.err);
	rvgo_audit_take(&r, problem, dst, cap);
	return r;
}
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"unsafe"
)

// CallOption changes one call; see WithActor.
type CallOption func(*callOptions)

type callOptions struct {
	actor    string
	hasActor bool
}

// WithActor makes the call act as actor: the audit log's record (and, for
// a write, the new version) names it. A server answering a worker passes
// "worker:<id> queue:<name>". At most 256 characters, not empty; control
// characters are escaped. Without it, the store's actor (SetActor), else
// $RUNQY_VAULT_ACTOR, else user@host.
func WithActor(actor string) CallOption {
	return func(o *callOptions) { o.actor, o.hasActor = actor, true }
}

func actorOf(opts []CallOption) (string, bool) {
	var o callOptions
	for _, f := range opts {
		f(&o)
	}
	return o.actor, o.hasActor
}

// AuditRecord is one record of the audit log: never a value, a fingerprint
// ("hmac-sha256:" + hex) instead.
type AuditRecord struct {
	Seq         int64           `json:"seq"`
	Time        string          `json:"time"`
	Actor       string          `json:"actor"`
	Operation   string          `json:"operation"`
	Vault       *string         `json:"vault"`
	Key         *string         `json:"key"`
	Version     *int64          `json:"version"`
	Fingerprint *string         `json:"fingerprint"`
	Detail      json.RawMessage `json:"detail"`
}

// AuditFilter selects records: every field set must match. Since is a date
// (2024-01-15) or RFC 3339; Limit keeps the newest N (0: all).
type AuditFilter struct {
	Vault     string `json:"vault,omitempty"`
	Key       string `json:"key,omitempty"`
	Actor     string `json:"actor,omitempty"`
	Operation string `json:"operation,omitempty"`
	Since     string `json:"since,omitempty"`
	Limit     uint32 `json:"limit,omitempty"`
}

func (s *Store) callAudit(f func(h *C.RunqyVaultStore) C.rvgo_audit_ret) (C.rvgo_audit_ret, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.handle == nil {
		return C.rvgo_audit_ret{}, ErrClosed
	}
	r := f(s.handle)
	return r, check(r.rc, r.err)
}

func (sc *scratch) auditResult(r *C.rvgo_audit_ret) []byte {
	if r.out != nil {
		b := bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(r.out)), int(r.len)))
		C.runqy_vault_string_free(r.out)
		r.out = nil
		return b
	}
	return bytes.Clone(sc.buf[len(sc.buf) : len(sc.buf)+int(r.len)])
}

// SetActor makes actor the actor of every later call on this store that
// is not given WithActor.
func (s *Store) SetActor(actor string) error {
	sc, err := pack(nil, actor)
	if err != nil {
		return err
	}
	defer sc.release()
	_, err = s.callAudit(func(h *C.RunqyVaultStore) C.rvgo_audit_ret {
		return C.rvgo_set_actor(h, sc.arg(0))
	})
	return err
}

// AuditLog returns the records that match filter, oldest first.
// ErrInvalidArgument for an unknown operation, a bad date.
func (s *Store) AuditLog(filter AuditFilter) ([]AuditRecord, error) {
	text, err := json.Marshal(filter)
	if err != nil {
		return nil, err
	}
	sc, err := pack(nil, string(text))
	if err != nil {
		return nil, err
	}
	defer sc.release()
	r, err := s.callAudit(func(h *C.RunqyVaultStore) C.rvgo_audit_ret {
		return C.rvgo_audit_log_json(h, sc.arg(0), sc.dst(), sc.room())
	})
	if err != nil {
		return nil, err
	}
	var out []AuditRecord
	if err := json.Unmarshal(sc.auditResult(&r), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// AuditVerify checks the whole chain with the current key and returns how
// many records it holds; ErrAuditBroken names the first bad record.
func (s *Store) AuditVerify() (uint64, error) {
	r, err := s.callAudit(func(h *C.RunqyVaultStore) C.rvgo_audit_ret {
		return C.rvgo_audit_verify(h)
	})
	return uint64(r.count), err
}

// AuditPrune removes the records written before before (a date or RFC
// 3339), keeping the rest verifiable from an anchor; how many went.
func (s *Store) AuditPrune(before string) (uint64, error) {
	sc, err := pack(nil, before)
	if err != nil {
		return 0, err
	}
	defer sc.release()
	r, err := s.callAudit(func(h *C.RunqyVaultStore) C.rvgo_audit_ret {
		return C.rvgo_audit_prune(h, sc.arg(0))
	})
	return uint64(r.count), err
}

// AuditReads says whether reads that hand out values are recorded.
func (s *Store) AuditReads() (bool, error) {
	r, err := s.callAudit(func(h *C.RunqyVaultStore) C.rvgo_audit_ret {
		return C.rvgo_audit_reads(h)
	})
	return bool(r.on), err
}

// SetAuditReads turns the recording of reads on or off (the change is recorded).
func (s *Store) SetAuditReads(on bool) error {
	_, err := s.callAudit(func(h *C.RunqyVaultStore) C.rvgo_audit_ret {
		return C.rvgo_set_audit_reads(h, C.bool(on))
	})
	return err
}

// AuditProblem is what the checks at open (or an append since) found wrong
// with the audit log, "" when nothing: for a server to log once.
func (s *Store) AuditProblem() (string, error) {
	sc, err := pack(nil)
	if err != nil {
		return "", err
	}
	defer sc.release()
	r, err := s.callAudit(func(h *C.RunqyVaultStore) C.rvgo_audit_ret {
		return C.rvgo_audit_problem(h, sc.dst(), sc.room())
	})
	if err != nil || r.none {
		return "", err
	}
	return string(sc.auditResult(&r)), nil
}
