module github.com/publikey/runqy-vault/runqy-vault-ffi/go

go 1.22
