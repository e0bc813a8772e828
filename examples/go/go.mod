module github.com/publikey/runqy-vault/examples/go

go 1.22

require github.com/publikey/runqy-vault/runqy-vault-ffi/go v0.0.0-00010101000000-000000000000

// The package from this checkout; a program outside the repository requires
// a released version instead (go get github.com/publikey/runqy-vault/runqy-vault-ffi/go).
replace github.com/publikey/runqy-vault/runqy-vault-ffi/go => ../../runqy-vault-ffi/go
