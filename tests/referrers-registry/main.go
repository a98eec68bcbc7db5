// Command notarium-referrers-registry serves go-containerregistry's registry package with its
// OCI 1.1 referrers API switched on, for Notarium's tests (tests/src/registry.rs). No
// packaged registry this project can install has the API: Debian's docker-registry (2.8) and
// distribution v3 lack it, `crane registry serve` serves the same package with the API off,
// and zot is not served by the Go module proxy.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	address := flag.String("address", "127.0.0.1:0", "address to listen on")
	disk := flag.String("disk", "", "directory for blobs (default: memory)")
	flag.Parse()

	listener, err := net.Listen("tcp", *address)
	if err != nil {
		log.Fatal(err)
	}
	opts := []registry.Option{registry.WithReferrersSupport(true)}
	if *disk != "" {
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(*disk)))
	}
	server := &http.Server{
		Handler:           registry.New(opts...),
		ReadHeaderTimeout: 5 * time.Second,
	}
	// The tests wait for this line and read the address from it.
	log.Printf("listening on %s", listener.Addr())
	log.Fatal(server.Serve(listener))
}
