module github.com/publikey/runqy-vault/examples/go

go 1.22
