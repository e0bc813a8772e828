// Command payload prints the registration payload a runqy server hands a
// worker for a queue that lists the given vaults, as the server embeds it in
// its registration response: SPEC §7 JSON on standard output, warnings on
// standard error.
//
//	RUNQY_VAULT_MASTER_KEY=... payload -db runqy.db [-git-token vault://v/K] VAULT...
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	runqyvault "github.com/publikey/runqy-vault/runqy-vault-ffi/go"
)

func main() {
	db := flag.String("db", "runqy-vault.db", "the store's SQLite file")
	gitToken := flag.String("git-token", "", "a vault://<vault>/<key> reference to the git token")
	flag.Parse()

	store, err := runqyvault.Open(*db)
	if err != nil {
		fail(err)
	}
	defer store.Close()

	payload, err := store.RegistrationPayload(flag.Args(), *gitToken)
	if err != nil {
		fail(err)
	}
	for _, w := range payload.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	out, err := json.Marshal(payload)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "error: %v (HTTP %d)\n", err, runqyvault.HTTPStatus(err))
	os.Exit(1)
}
