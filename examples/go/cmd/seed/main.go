// Command seed fills a store with two demo vaults for the payload example:
// api-keys (API_KEY=old, OPENAI_API_KEY) and model-credentials (API_KEY=new,
// GIT_TOKEN), so the later vault's API_KEY shadows the earlier one's.
//
//	RUNQY_VAULT_MASTER_KEY=... seed -db runqy.db
package main

import (
	"flag"
	"fmt"
	"os"

	runqyvault "github.com/publikey/runqy-vault/runqy-vault-ffi/go"
)

func main() {
	db := flag.String("db", "runqy-vault.db", "the store's SQLite file")
	flag.Parse()
	store, err := runqyvault.Open(*db)
	if err != nil {
		fail(err)
	}
	defer store.Close()
	steps := []func() error{
		func() error { return store.CreateVault("api-keys", "keys for the model APIs") },
		func() error { return store.CreateVault("model-credentials", "") },
		func() error { return store.Set("api-keys", "API_KEY", "old", true) },
		func() error { return store.Set("api-keys", "OPENAI_API_KEY", "sk-proj-abc123xx", true) },
		func() error { return store.Set("model-credentials", "API_KEY", "new", true) },
		func() error { return store.Set("model-credentials", "GIT_TOKEN", "ghp_example", true) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "error: %v (HTTP %d)\n", err, runqyvault.HTTPStatus(err))
	os.Exit(1)
}
