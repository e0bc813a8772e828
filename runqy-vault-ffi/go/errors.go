package runqyvault

// #include "runqy_vault.h"
import "C"

import "errors"

// Code is a RunqyVaultResult of the C ABI. The values never change.
type Code uint32

// The result codes, as in include/runqy_vault.h.
const (
	CodeOK               Code = C.RUNQY_VAULT_OK
	CodeDisabled         Code = C.RUNQY_VAULT_DISABLED
	CodeInvalidMasterKey Code = C.RUNQY_VAULT_INVALID_MASTER_KEY
	CodeKeyMismatch      Code = C.RUNQY_VAULT_KEY_MISMATCH
	CodeVaultNotFound    Code = C.RUNQY_VAULT_VAULT_NOT_FOUND
	CodeEntryNotFound    Code = C.RUNQY_VAULT_ENTRY_NOT_FOUND
	CodeVaultExists      Code = C.RUNQY_VAULT_VAULT_EXISTS
	CodeInvalidName      Code = C.RUNQY_VAULT_INVALID_NAME
	CodeReservedName     Code = C.RUNQY_VAULT_RESERVED_NAME
	CodeInvalidValue     Code = C.RUNQY_VAULT_INVALID_VALUE
	CodeInvalidArgument  Code = C.RUNQY_VAULT_INVALID_ARGUMENT
	CodeDecryptionFailed Code = C.RUNQY_VAULT_DECRYPTION_FAILED
	CodeStorage          Code = C.RUNQY_VAULT_STORAGE
	CodeIO               Code = C.RUNQY_VAULT_IO
	CodePanic            Code = C.RUNQY_VAULT_PANIC
	CodeOther            Code = C.RUNQY_VAULT_OTHER_ERROR
	CodeVersionNotFound  Code = C.RUNQY_VAULT_VERSION_NOT_FOUND
	CodeVersionConflict  Code = C.RUNQY_VAULT_VERSION_CONFLICT
	CodeAuditBroken      Code = C.RUNQY_VAULT_AUDIT_BROKEN
)

// HTTPStatus is the status a server answers with for the code (200 for CodeOK).
func (c Code) HTTPStatus() int {
	return int(C.runqy_vault_http_status(C.RunqyVaultResult(c)))
}

// String is the code's name in the C ABI, e.g. "RUNQY_VAULT_VAULT_NOT_FOUND",
// or "RUNQY_VAULT_UNKNOWN" for a code the linked library does not know.
func (c Code) String() string {
	return C.GoString(C.runqy_vault_result_name(C.RunqyVaultResult(c)))
}

// Error is a failure reported by the library: its code and its message
// (which never contains a secret value).
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "runqy-vault: " + e.Code.String()
	}
	return "runqy-vault: " + e.Message
}

// HTTPStatus is the status a server answers with for this error.
func (e *Error) HTTPStatus() int { return e.Code.HTTPStatus() }

// Is makes errors.Is(err, ErrVaultNotFound) and the like match on the code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is; each matches every Error of its code.
var (
	ErrDisabled         = &Error{Code: CodeDisabled}
	ErrInvalidMasterKey = &Error{Code: CodeInvalidMasterKey}
	ErrKeyMismatch      = &Error{Code: CodeKeyMismatch}
	ErrVaultNotFound    = &Error{Code: CodeVaultNotFound}
	ErrEntryNotFound    = &Error{Code: CodeEntryNotFound}
	ErrVaultExists      = &Error{Code: CodeVaultExists}
	ErrInvalidName      = &Error{Code: CodeInvalidName}
	ErrReservedName     = &Error{Code: CodeReservedName}
	ErrInvalidValue     = &Error{Code: CodeInvalidValue}
	ErrInvalidArgument  = &Error{Code: CodeInvalidArgument}
	ErrDecryptionFailed = &Error{Code: CodeDecryptionFailed}
	ErrStorage          = &Error{Code: CodeStorage}
	ErrIO               = &Error{Code: CodeIO}
	ErrPanic            = &Error{Code: CodePanic}
	ErrVersionNotFound  = &Error{Code: CodeVersionNotFound}
	ErrVersionConflict  = &Error{Code: CodeVersionConflict}
	ErrAuditBroken      = &Error{Code: CodeAuditBroken}
)

// ErrClosed is returned by calls on a Store after Close.
var ErrClosed = errors.New("runqy-vault: store is closed")

// HTTPStatus is the status for any error, as the library gives it: CodeOK's
// (200) for nil, the code's for an *Error, CodeOther's (500) for any other
// error.
func HTTPStatus(err error) int {
	if err == nil {
		return CodeOK.HTTPStatus()
	}
	var e *Error
	if errors.As(err, &e) {
		return e.HTTPStatus()
	}
	return CodeOther.HTTPStatus()
}
