// Command server answers worker registrations as a runqy server does: a
// worker POSTs its id and queue, and gets the registration payload of the
// queue's vaults (SPEC §7). Each payload is handed out as
// "worker:<id> queue:<name>", so the audit log says which worker got which
// secrets when (runqy-vault audit log --actor 'worker:7 queue:inference').
//
//	RUNQY_VAULT_MASTER_KEY=... server -db runqy.db -listen 127.0.0.1:8080 \
//	    -queue inference=api-keys,model-credentials -git-token inference=vault://ci/GIT_TOKEN
//	curl -d '{"worker_id":"7","queue":"inference"}' http://127.0.0.1:8080/worker/register
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"

	runqyvault "github.com/publikey/runqy-vault/runqy-vault-ffi/go"
)

// queueFlags is a repeatable NAME=VALUE flag.
type queueFlags map[string]string

func (q queueFlags) String() string { return fmt.Sprint(map[string]string(q)) }

func (q queueFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want QUEUE=VALUE, got %q", v)
	}
	q[name] = value
	return nil
}

// registration is what a worker sends.
type registration struct {
	WorkerID string `json:"worker_id"`
	Queue    string `json:"queue"`
}

// handler serves POST /worker/register for the queues listed.
func handler(store *runqyvault.Store, vaults, gitTokens map[string]string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /worker/register", func(w http.ResponseWriter, r *http.Request) {
		var reg registration
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&reg); err != nil ||
			reg.WorkerID == "" || reg.Queue == "" {
			http.Error(w, "want {\"worker_id\": ..., \"queue\": ...}", http.StatusBadRequest)
			return
		}
		list, ok := vaults[reg.Queue]
		if !ok {
			http.Error(w, "unknown queue", http.StatusNotFound)
			return
		}
		actor := runqyvault.WithActor("worker:" + reg.WorkerID + " queue:" + reg.Queue)
		payload, err := store.RegistrationPayloadJSON(strings.Split(list, ","), gitTokens[reg.Queue], actor)
		if err != nil {
			// The library's message never holds a value; its status is the HTTP answer.
			http.Error(w, err.Error(), runqyvault.HTTPStatus(err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(payload)
	})
	return mux
}

func main() {
	db := flag.String("db", "runqy-vault.db", "the store's SQLite file (or a PostgreSQL URL)")
	listen := flag.String("listen", "127.0.0.1:8080", "the address to serve on")
	vaults, gitTokens := queueFlags{}, queueFlags{}
	flag.Var(vaults, "queue", "QUEUE=VAULT,VAULT...: the vaults of a queue (repeatable)")
	flag.Var(gitTokens, "git-token", "QUEUE=vault://VAULT/KEY: a queue's git token (repeatable)")
	flag.Parse()

	store, err := runqyvault.Open(*db)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	defer store.Close()
	if problem, _ := store.AuditProblem(); problem != "" {
		log.Printf("warning: the audit log is broken: %s; run `runqy-vault audit verify`", problem)
	}
	log.Printf("serving worker registrations on %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, handler(store, vaults, gitTokens)))
}
