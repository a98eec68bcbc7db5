// Command go-checkpoint verifies C2SP checkpoints with outside code only: Go's
// golang.org/x/mod/sumdb/note (signed notes) and transparency-dev/formats/log (checkpoint
// bodies), vendored so that it runs offline. It knows nothing of Notarium's index line; it
// shows that such a checkpoint is still a valid checkpoint for verifiers that ignore it.
//
// Usage: go run . VERIFIER_KEY FILE...
//
// For each file (a signed checkpoint note) it prints one line:
//
//	ok ORIGIN SIZE BASE64_ROOT rest="EXTENSION LINES"
//	rejected ERROR
package main

import (
	"encoding/base64"
	"fmt"
	"os"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: go-checkpoint VERIFIER_KEY FILE...")
		os.Exit(2)
	}
	verifier, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad verifier key:", err)
		os.Exit(2)
	}
	for _, path := range os.Args[2:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		cp, rest, _, err := log.ParseCheckpoint(data, verifier.Name(), verifier)
		if err != nil {
			fmt.Printf("rejected %v\n", err)
			continue
		}
		fmt.Printf("ok %s %d %s rest=%q\n", cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Hash), rest)
	}
}
