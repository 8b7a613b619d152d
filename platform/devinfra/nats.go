package devinfra

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS is a reachable NATS server with JetStream.
type NATS struct {
	URL     string
	Started bool
	srv     *server.Server
	// dir is the embedded server's JetStream store and users its nkey
	// users (both kept by Restart).
	dir   string
	users []*server.NkeyUser
}

// NATSAuth is how a stack's NATS authenticates.
type NATSAuth struct {
	// Users are the embedded server's nkey users with their permissions
	// (natsauth.ServerUsers); none leaves it open to anyone.
	Users []*server.NkeyUser
	// Connect are the options (credentials) for checking a server named by
	// NATS_URL, which brings its own users.
	Connect []nats.Option
}

// StartNATS returns the server named by NATS_URL (env), used as it is and
// reached with auth.Connect, or else ("" or "embedded") a nats-server
// embedded in this process with auth.Users, storing JetStream data under
// dir. A server already running on this machine is not reused: its users
// and permissions are not ours to set.
func StartNATS(ctx context.Context, dir string, auth NATSAuth) (*NATS, error) {
	u := os.Getenv("NATS_URL")
	if u == "" || u == "embedded" {
		return StartEmbeddedNATS(dir, -1, auth.Users)
	}
	// A configured server is used as it is (a too old one fails loudly below).
	if err := checkJetStream(ctx, u, auth.Connect); err != nil {
		return nil, fmt.Errorf("devinfra: NATS_URL is set but not usable: %w", err)
	}
	return &NATS{URL: u}, nil
}

// StartEmbeddedNATS runs nats-server in this process (port -1: any free
// port) with users as its only clients (nil: anyone may connect and do
// anything, as unit tests do).
func StartEmbeddedNATS(dir string, port int, users []*server.NkeyUser) (*NATS, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("devinfra: nats dir: %w", err)
	}
	srv, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  dir,
		Nkeys:     users,
		NoSigs:    true,
		NoLog:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("devinfra: nats server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("devinfra: embedded nats-server did not start")
	}
	return &NATS{URL: srv.ClientURL(), Started: true, srv: srv, dir: dir, users: users}, nil
}

// Restart shuts an embedded server down and starts it again on the same
// port with the same JetStream store, as a restart of the server process
// would: streams, consumers and messages are kept, and clients reconnect.
// Fault-injection tests use it; a server this process did not start cannot
// be restarted.
func (n *NATS) Restart() error {
	if n.srv == nil {
		return errors.New("devinfra: only an embedded NATS server can be restarted")
	}
	addr, ok := n.srv.Addr().(*net.TCPAddr)
	if !ok {
		return errors.New("devinfra: embedded NATS server has no TCP address")
	}
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	var err error
	for range 50 { // the port may take a moment to be free again
		var m *NATS
		if m, err = StartEmbeddedNATS(n.dir, addr.Port, n.users); err == nil {
			n.srv = m.srv
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("devinfra: restart embedded nats-server: %w", err)
}

// MinServerVersion is the oldest nats-server Madoguchi runs on: 2.9 (still
// shipped by Debian 12) loses pull-consumer deliveries on work-queue streams
// with wildcard filters as used by the results stream, and lacks
// multi-filter consumers.
const MinServerVersion = "2.10.0"

func checkJetStream(ctx context.Context, url string, opts []nats.Option) error {
	nc, err := nats.Connect(url, append([]nats.Option{nats.Timeout(2 * time.Second)}, opts...)...)
	if err != nil {
		return err
	}
	defer nc.Close()
	if v := nc.ConnectedServerVersion(); !versionAtLeast(v, MinServerVersion) {
		return fmt.Errorf("nats-server %s is older than %s", v, MinServerVersion)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}

// Stop shuts down an embedded server; otherwise it does nothing.
func (n *NATS) Stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

// versionAtLeast compares dotted numeric versions ("2.9.10" < "2.10.0").
func versionAtLeast(v, min string) bool {
	parse := func(s string) [3]int {
		var out [3]int
		s, _, _ = strings.Cut(s, "-")
		for i, p := range strings.SplitN(s, ".", 3) {
			out[i], _ = strconv.Atoi(p)
		}
		return out
	}
	a, b := parse(v), parse(min)
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}
