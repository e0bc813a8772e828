// Command worker is a runqy worker's task loop, cut down to what the vault
// touches: it reads the registration response the runqy server sent (the
// payload JSON: its "vaults" and "git_token", other members ignored), builds
// the task's environment from its own without its RUNQY_* credentials, starts
// the task, and logs each line the task prints, redacted, as the worker's log
// buffer (pushed to Redis and the dashboard) receives it.
//
//	worker -payload registration.json [-keep NAME]... -- CMD [ARG]...
//	curl -s -X POST "$RUNQY_SERVER/worker/register" ... | worker -payload - -- python main.py
//
// It exits with the task's status.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	runqyvault "github.com/publikey/runqy-vault/runqy-vault-ffi/go"
)

// keepFlag collects -keep NAME, repeatable.
type keepFlag []string

func (k *keepFlag) String() string     { return strings.Join(*k, ",") }
func (k *keepFlag) Set(v string) error { *k = append(*k, v); return nil }

func main() {
	payloadPath := flag.String("payload", "-", "the registration response JSON: a file, or - for standard input")
	var keep keepFlag
	flag.Var(&keep, "keep", "pass on the worker's variable NAME although it starts with RUNQY_ (repeatable)")
	flag.Parse()
	task := flag.Args()
	if len(task) == 0 {
		fail(errors.New("no task: worker -payload FILE -- CMD [ARG]..."))
	}

	// 1. Register: the server's answer holds the queue's secrets.
	var registration []byte
	var err error
	if *payloadPath == "-" {
		registration, err = io.ReadAll(os.Stdin)
	} else {
		registration, err = os.ReadFile(*payloadPath)
	}
	if err != nil {
		fail(err)
	}
	defer clear(registration)

	// 2. The task's environment: the worker's own (where upstream also puts
	// the venv's PATH and VIRTUAL_ENV), without its RUNQY_* credentials,
	// the vault values on top. The git token stays with the worker's clone.
	env, err := runqyvault.ChildEnv(registration, os.Environ(), keep...)
	if err != nil {
		fail(err)
	}
	redactor, err := runqyvault.NewRedactor(registration)
	if err != nil {
		fail(err)
	}
	defer redactor.Close()
	if skipped, err := redactor.Skipped(); err == nil && len(skipped) > 0 {
		logLine("worker", "warning: not redacted, shorter than 6 characters: "+strings.Join(skipped, ", "))
	}

	// 3. Start the task; 4. every line it prints reaches the log redacted.
	cmd := exec.Command(task[0], task[1:]...)
	cmd.Env = env
	cmd.Stdin = os.Stdin
	outLog, errLog := &lines{stream: "stdout"}, &lines{stream: "stderr"}
	stdout, stderr := redactor.Writer(outLog), redactor.Writer(errLog)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	runErr := cmd.Run()
	// The bytes each writer held back, then a last line without a newline.
	for _, w := range []io.Closer{stdout, stderr, outLog, errLog} {
		if err := w.Close(); err != nil {
			logLine("worker", "error: "+err.Error())
		}
	}
	var exit *exec.ExitError
	switch {
	case errors.As(runErr, &exit):
		os.Exit(exit.ExitCode())
	case runErr != nil:
		fail(runErr)
	}
}

var logMu sync.Mutex

// logLine is the worker's log buffer; here, standard output.
func logLine(stream, line string) {
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Printf("%s: %s\n", stream, line)
}

// lines cuts what is written into lines for logLine.
type lines struct {
	stream  string
	partial []byte
}

func (l *lines) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		logLine(l.stream, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
}

func (l *lines) Close() error {
	if len(l.partial) > 0 {
		logLine(l.stream, string(l.partial))
		l.partial = nil
	}
	return nil
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "error: %v\n", err)
	os.Exit(1)
}
