//go:build runqyvault_release

package runqyvault

// Links the static library of a release build (cargo build --release -p runqy-vault-ffi).

// #cgo LDFLAGS: ${SRCDIR}/../../target/release/librunqy_vault_ffi.a -lpthread -ldl -lm
import "C"
