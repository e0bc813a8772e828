package runqyvault

/*
#include <stdlib.h>
#include <string.h>
#include "runqy_vault.h"

// The outcome of a redactor or environment call (see rvgo_ret in runqyvault.go).
typedef struct {
	RunqyVaultResult rc;
	char *err;                 // the failure's message (Go frees it), or NULL
	char *out;                 // bytes that did not fit dst (Go copies and frees them), or NULL
	size_t len;                // the bytes' length, in dst or at out
	RunqyVaultRedactor *r;     // a new handle
	char **env;                // rvgo_child_env's environment (Go copies and frees it)
	size_t n;                  // its length
} rvgo_red;

// rvgo_take_bytes moves (p, len) into dst (cap bytes) when it fits, freeing
// p, which wipes it; otherwise it leaves p in x->out.
static void rvgo_take_bytes(rvgo_red *x, char *p, size_t len, char *dst, size_t cap) {
	if (p == NULL) return;
	x->len = len;
	if (len > cap) {
		x->out = p;
		return;
	}
	memcpy(dst, p, len);
	runqy_vault_bytes_free(p, len);
}

static rvgo_red rvgo_redactor_from_payload(const char *json) {
	rvgo_red x = {0};
	x.rc = runqy_vault_redactor_from_payload(json, &x.r, &x.err);
	return x;
}

static rvgo_red rvgo_redactor_clone(const RunqyVaultRedactor *r) {
	rvgo_red x = {0};
	x.rc = runqy_vault_redactor_clone(r, &x.r, &x.err);
	return x;
}

static rvgo_red rvgo_redactor_skipped(const RunqyVaultRedactor *r) {
	rvgo_red x = {0};
	x.rc = runqy_vault_redactor_skipped_json(r, &x.out, &x.err);
	if (x.out != NULL) x.len = strlen(x.out);
	return x;
}

static rvgo_red rvgo_redactor_feed(const RunqyVaultRedactor *r, const uint8_t *buf, size_t n, char *dst, size_t cap) {
	rvgo_red x = {0};
	char *out = NULL;
	size_t len = 0;
	x.rc = runqy_vault_redactor_feed(r, buf, n, &out, &len, &x.err);
	rvgo_take_bytes(&x, out, len, dst, cap);
	return x;
}

static rvgo_red rvgo_redactor_finish(const RunqyVaultRedactor *r, char *dst, size_t cap) {
	rvgo_red x = {0};
	char *out = NULL;
	size_t len = 0;
	x.rc = runqy_vault_redactor_finish(r, &out, &len, &x.err);
	rvgo_take_bytes(&x, out, len, dst, cap);
	return x;
}

// rvgo_child_env points C arrays at the n_base and n_keep NUL-terminated
// strings packed one after another at base and keep (Go memory, for the call).
static rvgo_red rvgo_child_env(const char *json, const char *base, size_t n_base, const char *keep, size_t n_keep) {
	rvgo_red x = {0};
	const char **b = calloc(n_base + 1, sizeof *b);
	const char **k = calloc(n_keep + 1, sizeof *k);
	if (b == NULL || k == NULL) {
		free(b);
		free(k);
		x.rc = RUNQY_VAULT_OTHER_ERROR;
		return x;
	}
	for (size_t i = 0; i < n_base; i++) { b[i] = base; base += strlen(base) + 1; }
	for (size_t i = 0; i < n_keep; i++) { k[i] = keep; keep += strlen(keep) + 1; }
	x.rc = runqy_vault_child_env(json, b, k, n_keep, &x.env, &x.n, &x.err);
	free(b);
	free(k);
	return x;
}
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// Redactor holds the values of a registration payload, to mask in a task's
// output (SPEC §11): every form of each value (the value, its base64 at each
// alignment, URL and JSON escaping, Python repr) becomes the value's mask.
// It is a safety net for accidents, not a boundary: a task can always write a
// value in a way no redactor recognises.
//
// A Redactor is safe for concurrent use; each Writer it makes is one stream.
type Redactor struct {
	mu sync.Mutex
	h  *C.RunqyVaultRedactor
}

// payloadText is the payload JSON as a NUL-terminated C string in Go memory.
func payloadText(payload []byte) ([]byte, error) {
	if bytes.IndexByte(payload, 0) >= 0 {
		return nil, nulError("the payload")
	}
	return append(append(make([]byte, 0, len(payload)+1), payload...), 0), nil
}

// NewRedactor makes a redactor of a registration payload's values: its
// "vaults" entries and its "git_token". payload is the JSON a worker
// receives: the payload (Store.RegistrationPayloadJSON, json.Marshal of a
// *Payload) or the whole registration response of a runqy server, whose
// other members are ignored. A value that is not a string is refused naming
// its key. Close it when done.
func NewRedactor(payload []byte) (*Redactor, error) {
	text, err := payloadText(payload)
	if err != nil {
		return nil, err
	}
	defer clear(text)
	x := C.rvgo_redactor_from_payload((*C.char)(unsafe.Pointer(&text[0])))
	if err := check(x.rc, x.err); err != nil {
		return nil, err
	}
	r := &Redactor{h: x.r}
	runtime.SetFinalizer(r, (*Redactor).Close)
	return r, nil
}

// Skipped is the names of the values left alone (or partly alone) because
// they, or one of their lines, are shorter than 6 characters: warn once
// naming them. Never the values.
func (r *Redactor) Skipped() ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h == nil {
		return nil, ErrRedactorClosed
	}
	x := C.rvgo_redactor_skipped(r.h)
	if err := check(x.rc, x.err); err != nil {
		return nil, err
	}
	raw := C.GoStringN(x.out, C.int(x.len))
	C.runqy_vault_string_free(x.out)
	var names []string
	if err := json.Unmarshal([]byte(raw), &names); err != nil {
		return nil, err
	}
	return names, nil
}

// Writer returns a writer that redacts what is written to it and writes the
// result to w: one stream (a task's standard output, or its standard
// error), cheap to make (the values' matcher is shared). Lines reach w as
// soon as their newline is written; only bytes that may begin a value are
// held back, until a later write or Close decides them. Close flushes them;
// it does not close w.
func (r *Redactor) Writer(w io.Writer) io.WriteCloser {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h == nil {
		return &redactingWriter{w: w, err: ErrRedactorClosed}
	}
	x := C.rvgo_redactor_clone(r.h)
	if err := check(x.rc, x.err); err != nil {
		return &redactingWriter{w: w, err: err}
	}
	rw := &redactingWriter{w: w, h: x.r}
	runtime.SetFinalizer(rw, (*redactingWriter).free)
	return rw
}

// Close frees the redactor; writers made from it keep working. Closing
// twice is fine.
func (r *Redactor) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h != nil {
		C.runqy_vault_redactor_free(r.h)
		r.h = nil
		runtime.SetFinalizer(r, nil)
	}
	return nil
}

// NewRedactingWriter returns a writer that masks every value of payload (as
// NewRedactor reads it) in what is written to it, and writes the result to
// w; Close writes the bytes still held back (it does not close w). A payload
// that cannot be read makes every Write and Close fail with its error,
// writing nothing: output never passes unredacted. Make one per output.
func NewRedactingWriter(w io.Writer, payload []byte) io.WriteCloser {
	r, err := NewRedactor(payload)
	if err != nil {
		return &redactingWriter{w: w, err: err}
	}
	defer r.Close()
	return r.Writer(w)
}

// redactingWriter is one stream of a Redactor.
type redactingWriter struct {
	mu  sync.Mutex
	w   io.Writer
	h   *C.RunqyVaultRedactor
	err error  // the first failure: every later call returns it
	dst []byte // where C copies the redacted bytes
}

// ErrRedactorClosed is returned by a Redactor's calls after its Close, and
// by a redacting writer's Write after its Close.
var ErrRedactorClosed = errors.New("runqy-vault: redactor is closed")

func (rw *redactingWriter) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.err != nil {
		return 0, rw.err
	}
	if rw.h == nil {
		return 0, ErrRedactorClosed
	}
	if need := len(p) + 1024; cap(rw.dst) < need {
		rw.dst = make([]byte, need)
	}
	var buf *C.uint8_t
	if len(p) > 0 {
		buf = (*C.uint8_t)(unsafe.Pointer(&p[0]))
	}
	dst := rw.dst[:cap(rw.dst)]
	x := C.rvgo_redactor_feed(rw.h, buf, C.size_t(len(p)), (*C.char)(unsafe.Pointer(&dst[0])), C.size_t(len(dst)))
	if err := rw.emit(&x, dst); err != nil {
		return 0, err
	}
	return len(p), nil
}

// emit writes a feed's or finish's bytes to w, remembering a failure.
func (rw *redactingWriter) emit(x *C.rvgo_red, dst []byte) error {
	if err := check(x.rc, x.err); err != nil {
		rw.err = err
		return err
	}
	out := dst[:x.len]
	if x.out != nil {
		out = C.GoBytes(unsafe.Pointer(x.out), C.int(x.len))
		C.runqy_vault_bytes_free(x.out, x.len)
	}
	if len(out) == 0 {
		return nil
	}
	if _, err := rw.w.Write(out); err != nil {
		rw.err = err
		return err
	}
	return nil
}

// Close writes the bytes held back, redacted, and frees the stream. Closing
// twice is fine; a writer that failed returns its failure.
func (rw *redactingWriter) Close() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.h == nil {
		return rw.err
	}
	if rw.err == nil {
		dst := make([]byte, 4096)
		x := C.rvgo_redactor_finish(rw.h, (*C.char)(unsafe.Pointer(&dst[0])), C.size_t(len(dst)))
		_ = rw.emit(&x, dst)
	}
	rw.release()
	return rw.err
}

func (rw *redactingWriter) release() {
	C.runqy_vault_redactor_free(rw.h)
	rw.h = nil
	clear(rw.dst)
	runtime.SetFinalizer(rw, nil)
}

// free is the finalizer of a writer never closed: its held-back bytes are
// dropped (wiped), not written.
func (rw *redactingWriter) free() {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.h != nil {
		rw.release()
	}
}

// ChildEnv builds a task's environment (SPEC §7) for exec.Cmd.Env: base
// (entries "NAME=VALUE", as os.Environ returns them, perhaps with the
// worker's PATH or VIRTUAL_ENV added; a name given twice takes its last
// value) without the worker's own variables — every name starting with
// RUNQY_ (the master key, RUNQY_API_KEY, ...) is dropped unless it is in
// keep — then payload's vault entries on top and RUNQY_VAULT_KEYS set afresh
// to their names; sorted by name. payload is read as NewRedactor reads it;
// its git_token is never put in the environment. A reserved or ill-formed
// name, a NUL byte or a value that is not a string refuses the whole payload
// (ErrReservedName, ErrInvalidName, ErrInvalidValue, ErrInvalidArgument),
// naming the key.
func ChildEnv(payload []byte, base []string, keep ...string) ([]string, error) {
	text, err := payloadText(payload)
	if err != nil {
		return nil, err
	}
	defer clear(text)
	packed, err := packStrings(base, "an entry of base")
	if err != nil {
		return nil, err
	}
	defer clear(packed)
	kept, err := packStrings(keep, "a name in keep")
	if err != nil {
		return nil, err
	}
	x := C.rvgo_child_env((*C.char)(unsafe.Pointer(&text[0])), (*C.char)(unsafe.Pointer(&packed[0])),
		C.size_t(len(base)), (*C.char)(unsafe.Pointer(&kept[0])), C.size_t(len(keep)))
	if x.rc == C.RUNQY_VAULT_OTHER_ERROR && x.err == nil {
		return nil, &Error{Code: CodeOther, Message: "out of memory building the environment"}
	}
	if err := check(x.rc, x.err); err != nil {
		return nil, err
	}
	defer C.runqy_vault_env_free(x.env)
	entries := unsafe.Slice(x.env, int(x.n))
	env := make([]string, len(entries))
	for i, e := range entries {
		env[i] = C.GoString(e)
	}
	return env, nil
}

// packStrings is list as NUL-terminated strings one after another (one NUL
// when empty, so it always has a first byte to point at).
func packStrings(list []string, what string) ([]byte, error) {
	n := 1
	for _, s := range list {
		if strings.IndexByte(s, 0) >= 0 {
			return nil, nulError(what)
		}
		n += len(s) + 1
	}
	out := make([]byte, 0, n)
	for _, s := range list {
		out = append(append(out, s...), 0)
	}
	return append(out, 0), nil
}
