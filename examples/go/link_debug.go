//go:build !runqyvault_release

package runqyvault

// Links the static library of a debug build (cargo build -p runqy-vault-ffi),
// so binaries need no LD_LIBRARY_PATH. Build with -tags runqyvault_release
// to link target/release instead (cargo build --release -p runqy-vault-ffi).

// #cgo LDFLAGS: ${SRCDIR}/../../target/debug/librunqy_vault_ffi.a -lpthread -ldl -lm
import "C"
