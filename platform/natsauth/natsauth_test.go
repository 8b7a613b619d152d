package natsauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/devinfra"
	"madoguchi.dev/platform/disclosure"
	"madoguchi.dev/platform/natsauth"
	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// fixture is an embedded nats-server running the permissions of a layout
// with two holders and one erasure subscriber, its streams declared by the
// admin.
type fixture struct {
	ns     contract.Namespace
	layout natsauth.Layout
	url    string
	seeds  map[string]string
	admin  *client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ns, err := contract.NewNamespace(testinfra.UniqueName("a"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ns: ns, seeds: map[string]string{},
		layout: natsauth.Layout{Namespace: ns, Holders: []string{"members", "billing"}, ErasureSubscribers: []string{"search"}}}
	users, _ := serverUsers(t, f.layout, f.seeds)
	srv, err := devinfra.StartEmbeddedNATS(t.TempDir(), -1, users)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	f.url = srv.URL
	f.admin = f.connect(t, natsauth.Admin)
	if err := bus.DeclareStreams(ctxT(t, testinfra.Timeout), f.admin.js, ns, bus.StreamOptions{}); err != nil {
		t.Fatalf("admin declares the streams: %v", err)
	}
	return f
}

// serverUsers makes a seed for every user of l (into seeds) and returns the
// server's users and the public keys.
func serverUsers(t *testing.T, l natsauth.Layout, seeds map[string]string) ([]*server.NkeyUser, map[string]string) {
	t.Helper()
	perms, err := l.Permissions()
	if err != nil {
		t.Fatal(err)
	}
	pubs := map[string]string{}
	for _, u := range l.Users() {
		seed, pub, err := natsauth.NewSeed()
		if err != nil {
			t.Fatal(err)
		}
		seeds[u], pubs[u] = seed, pub
	}
	users, err := natsauth.ServerUsers(perms, pubs)
	if err != nil {
		t.Fatal(err)
	}
	return users, pubs
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// client is one user's connection, keeping the errors the server reported.
type client struct {
	user string
	nc   *nats.Conn
	js   jetstream.JetStream
	mu   sync.Mutex
	errs []error
	got  chan struct{}
}

func (f *fixture) connect(t *testing.T, user string) *client {
	t.Helper()
	opts, err := natsauth.ConnectOptions(user, f.seeds[user])
	if err != nil {
		t.Fatal(err)
	}
	c := &client{user: user, got: make(chan struct{}, 1)}
	opts = append(opts, nats.Name(user), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		c.mu.Lock()
		c.errs = append(c.errs, err)
		c.mu.Unlock()
		select {
		case c.got <- struct{}{}:
		default:
		}
	}))
	if c.nc, err = nats.Connect(f.url, opts...); err != nil {
		t.Fatalf("%s connects with its own credentials: %v", user, err)
	}
	t.Cleanup(c.nc.Close)
	if c.js, err = jetstream.New(c.nc); err != nil {
		t.Fatal(err)
	}
	return c
}

// violations returns the permission violations reported so far.
func (c *client) violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, err := range c.errs {
		if errors.Is(err, nats.ErrPermissionViolation) {
			out = append(out, err.Error())
		}
	}
	return out
}

// denied waits for the server's permissions violation of action ("Publish
// to" or "Subscription to") on subject.
func (c *client) denied(t *testing.T, action, subject string) {
	t.Helper()
	want := strings.ToLower(fmt.Sprintf("%s %q", action, subject))
	deadline := time.After(3 * time.Second)
	for {
		for _, v := range c.violations() {
			if strings.Contains(strings.ToLower(v), want) {
				return
			}
		}
		select {
		case <-c.got:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%s: no permissions violation for %s %q (got %q)", c.user, action, subject, c.violations())
		}
	}
}

// clean fails the test if the server refused anything c did.
func (c *client) clean(t *testing.T) {
	t.Helper()
	if err := c.nc.Flush(); err != nil {
		t.Errorf("%s: flush: %v", c.user, err)
	}
	time.Sleep(50 * time.Millisecond) // an -ERR follows the refused message
	if v := c.violations(); len(v) > 0 {
		t.Errorf("%s was refused: %q", c.user, v)
	}
}

// msgs counts a stream's messages (as the admin sees them).
func (f *fixture) msgs(t *testing.T, stream string) uint64 {
	t.Helper()
	s, err := f.admin.js.Stream(ctxT(t, testinfra.Timeout), stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	return s.CachedInfo().State.Msgs
}

// publishDenied has c publish m on subject through JetStream and asserts
// that the server refused it and that stream did not grow.
func (f *fixture) publishDenied(t *testing.T, c *client, stream, subject string, m proto.Message) {
	t.Helper()
	before := f.msgs(t, stream)
	if _, err := bus.Publish(ctxT(t, 500*time.Millisecond), c.js, subject, "forged-"+subject, "", m); err == nil {
		t.Fatalf("%s published to %s: the stream acked it", c.user, subject)
	}
	c.denied(t, "Publish to", subject)
	if after := f.msgs(t, stream); after != before {
		t.Fatalf("%s on %s: stream %s went from %d to %d messages", c.user, subject, stream, before, after)
	}
}

func TestEveryComponentDoesItsWorkWithItsOwnCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ns := f.ns
	intake, bridge, worker := f.connect(t, natsauth.Intake), f.connect(t, natsauth.Bridge), f.connect(t, natsauth.Worker)
	members, search := f.connect(t, natsauth.Holder("members")), f.connect(t, natsauth.ErasureSubscriber("search"))
	ctx := ctxT(t, testinfra.Timeout)
	log := testinfra.Logger(t)

	// Each sees the streams it works on.
	for _, c := range []*client{intake, bridge, worker, members, search} {
		p, _ := natsauth.Of(ns, c.user)
		for _, s := range p.Streams {
			if _, err := c.js.Stream(ctx, s); err != nil {
				t.Fatalf("%s looks up stream %s: %v", c.user, s, err)
			}
		}
	}

	seen := make(chan string, 16)
	consume := func(c *client, stream, durable, filter string, h bus.Handler) {
		testinfra.Go(t, func(ctx context.Context) error {
			return bus.Consumer{Namespace: ns, Stream: stream, Durable: durable, FilterSubjects: []string{filter}, Log: log}.Run(ctx, c.js, h)
		})
	}
	saw := func(what string) bus.Handler {
		return func(context.Context, jetstream.Msg) error { seen <- what; return nil }
	}
	wait := func(want ...string) {
		t.Helper()
		got := map[string]bool{}
		for len(got) < len(want) {
			select {
			case w := <-seen:
				got[w] = true
			case <-ctx.Done():
				t.Fatalf("saw %v, want %v", got, want)
			}
		}
	}
	consume(bridge, ns.StreamRequests(), "dispatcher", ns.RequestSubmitted(), saw("dispatched"))
	consume(bridge, ns.StreamResults(), "results", ns.AllResults(), saw("result"))
	consume(members, ns.StreamCommands(), natsauth.Holder("members"), ns.CommandsFor("members"),
		func(ctx context.Context, msg jetstream.Msg) error {
			_, err := bus.Publish(ctx, members.js, ns.Result("members"), "c1.result", "r1", &dsrv1.HolderResult{CommandId: "c1"})
			seen <- "command"
			return err
		})
	consume(intake, ns.StreamEvents(), "intake-retention", ns.RequestConcluded(), saw("concluded"))
	// The subscriber cannot decode what it gets: it dead-letters it.
	consume(search, ns.StreamEvents(), natsauth.ErasureSubscriber("search"), ns.ErasureCompleted(),
		func(context.Context, jetstream.Msg) error { seen <- "erasure"; return bus.Poison("test") })

	if _, err := bus.Publish(ctx, intake.js, ns.RequestSubmitted(), "r1", "r1", &dsrv1.RequestSubmitted{RequestId: "r1"}); err != nil {
		t.Fatalf("intake announces a request: %v", err)
	}
	if _, err := bus.Publish(ctx, worker.js, ns.Command("members", "erase"), "r1.members.1", "r1", &dsrv1.HolderCommand{CommandId: "c1"}); err != nil {
		t.Fatalf("worker sends a command: %v", err)
	}
	if _, err := bus.Publish(ctx, worker.js, ns.ErasureCompleted(), "r1.erasure-completed", "r1", &dsrv1.ErasureCompleted{RequestId: "r1"}); err != nil {
		t.Fatalf("worker publishes the erasure event: %v", err)
	}
	if _, err := bus.Publish(ctx, worker.js, ns.RequestConcluded(), "r1.concluded", "r1", &dsrv1.RequestConcluded{RequestId: "r1"}); err != nil {
		t.Fatalf("worker announces the conclusion: %v", err)
	}
	wait("dispatched", "command", "result", "concluded", "erasure")
	testinfra.WaitStreamMsg(t, f.admin.js, ns.StreamDeadLetter(), ns.DeadLetter(natsauth.ErasureSubscriber("search")))

	// The worker stores, replaces and deletes a package; the intake opens it.
	ring := testinfra.Ring(t)
	ws := &disclosure.Store{JS: worker.js, Namespace: ns, Ring: ring}
	is := &disclosure.Store{JS: intake.js, Namespace: ns, Ring: ring}
	token := strings.Repeat("ab", 32)
	// Large enough for the ordered consumer's flow control (4 MiB).
	big, _ := json.Marshal(strings.Repeat("x", 4<<20))
	p := disclosure.Package{Receipt: "20261126-7K3M9Q", ExpiresAt: time.Now().Add(time.Hour),
		Holders: map[string]json.RawMessage{"members": big}}
	for range 2 {
		if _, err := ws.PutWithToken(ctx, p, token); err != nil {
			t.Fatalf("worker stores a package: %v", err)
		}
	}
	if got, err := is.Open(ctx, token, time.Now()); err != nil || got.Receipt != p.Receipt {
		t.Fatalf("intake opens the package: %+v, %v", got, err)
	}
	if err := ws.Delete(ctx, disclosure.ID(token)); err != nil {
		t.Fatalf("worker deletes the package: %v", err)
	}
	if _, err := is.Open(ctx, token, time.Now()); !errors.Is(err, disclosure.ErrNoPackage) {
		t.Fatalf("intake opens a deleted package: %v; want ErrNoPackage", err)
	}
	for _, c := range []*client{intake, bridge, worker, members, search} {
		c.clean(t)
	}
}

func TestAHolderCannotForgeAnotherHoldersResultAnEventOrACommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ns, members := f.ns, f.connect(t, natsauth.Holder("members"))
	f.publishDenied(t, members, ns.StreamResults(), ns.Result("billing"), &dsrv1.HolderResult{CommandId: "forged"})
	f.publishDenied(t, members, ns.StreamEvents(), ns.ErasureCompleted(), &dsrv1.ErasureCompleted{RequestId: "forged"})
	f.publishDenied(t, members, ns.StreamEvents(), ns.RequestConcluded(),
		&dsrv1.RequestConcluded{RequestId: "forged", ConcludedAt: timestamppb.New(time.Now().AddDate(-5, 0, 0))})
	f.publishDenied(t, members, ns.StreamCommands(), ns.Command("billing", "erase"), &dsrv1.HolderCommand{CommandId: "forged"})
	f.publishDenied(t, members, ns.StreamCommands(), ns.Command("members", "erase"), &dsrv1.HolderCommand{CommandId: "forged"})
	f.publishDenied(t, members, ns.StreamRequests(), ns.RequestSubmitted(), &dsrv1.RequestSubmitted{RequestId: "forged"})
}

func TestAHolderCannotReadAnotherHoldersCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ns, stream := f.ns, f.ns.StreamCommands()
	ctx := ctxT(t, testinfra.Timeout)
	// billing's durable exists, holding one command for billing.
	billing := bus.Consumer{Namespace: ns, Stream: stream, Durable: natsauth.Holder("billing"), FilterSubjects: []string{ns.CommandsFor("billing")}}
	if _, err := billing.Ensure(ctx, f.admin.js); err != nil {
		t.Fatal(err)
	}
	worker := f.connect(t, natsauth.Worker)
	if _, err := bus.Publish(ctx, worker.js, ns.Command("billing", "erase"), "r1.billing.1", "r1", &dsrv1.HolderCommand{CommandId: "c1"}); err != nil {
		t.Fatal(err)
	}
	members := f.connect(t, natsauth.Holder("members"))

	// Listening on billing's subjects, or on every inbox, where pull
	// deliveries travel: refused, nothing arrives.
	for _, subj := range []string{ns.CommandsFor("billing"), ns.Root + ".commands.>", "_INBOX.>", natsauth.InboxPrefix(natsauth.Holder("billing")) + ".>"} {
		sub, err := members.nc.SubscribeSync(subj)
		if err != nil {
			t.Fatal(err)
		}
		members.denied(t, "Subscription to", subj)
		if _, err := sub.NextMsg(200 * time.Millisecond); err == nil {
			t.Fatalf("members received a message on %s", subj)
		}
	}
	if _, err := bus.Publish(ctx, worker.js, ns.Command("billing", "export"), "r2.billing.1", "r2", &dsrv1.HolderCommand{CommandId: "c2"}); err != nil {
		t.Fatal(err)
	}

	// Its own durable name with billing's filter, billing's durable, a
	// consumer of the whole stream, the filter in the body: each refused.
	for _, c := range []jetstream.ConsumerConfig{
		{Durable: natsauth.Holder("members"), FilterSubject: ns.CommandsFor("billing")},
		{Durable: natsauth.Holder("billing"), FilterSubject: ns.CommandsFor("billing")},
		{Durable: natsauth.Holder("members"), FilterSubjects: []string{ns.CommandsFor("members"), ns.CommandsFor("billing")}},
		{Durable: natsauth.Holder("members")},
	} {
		if _, err := members.js.CreateOrUpdateConsumer(ctxT(t, 500*time.Millisecond), stream, c); err == nil {
			t.Fatalf("members created consumer %+v", c)
		}
	}
	members.denied(t, "Publish to", "$JS.API.CONSUMER.CREATE."+stream+".holder-members."+ns.CommandsFor("billing"))
	members.denied(t, "Publish to", "$JS.API.CONSUMER.CREATE."+stream+".holder-billing."+ns.CommandsFor("billing"))
	members.denied(t, "Publish to", "$JS.API.CONSUMER.CREATE."+stream+".holder-members")
	// The allowed subject with another filter in the body: the server
	// refuses the mismatch.
	body, _ := json.Marshal(map[string]any{"stream_name": stream, "config": map[string]any{
		"durable_name": "holder-members", "filter_subject": ns.CommandsFor("billing"), "ack_policy": "explicit"}})
	resp, err := members.nc.Request("$JS.API.CONSUMER.CREATE."+stream+".holder-members."+ns.CommandsFor("members"), body, 2*time.Second)
	if err != nil {
		t.Fatalf("create request: %v", err)
	}
	if !strings.Contains(string(resp.Data), `"err_code":10131`) { // JSConsumerCreateFilterSubjectMismatchErr
		t.Fatalf("a body filter unlike the subject's: %s; want the server's filter-mismatch error", resp.Data)
	}

	// Fetching from billing's durable, or acking its messages: refused.
	inbox := natsauth.InboxPrefix(natsauth.Holder("members")) + ".steal"
	sub, err := members.nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	next := "$JS.API.CONSUMER.MSG.NEXT." + stream + ".holder-billing"
	if err := members.nc.PublishRequest(next, inbox, []byte(`{"batch":10,"expires":500000000}`)); err != nil {
		t.Fatal(err)
	}
	members.denied(t, "Publish to", next)
	if m, err := sub.NextMsg(700 * time.Millisecond); err == nil {
		t.Fatalf("members fetched from billing's durable: %s %q", m.Subject, m.Data)
	}
	ack := "$JS.ACK." + stream + ".holder-billing.1.1.1.0.0"
	if err := members.nc.Publish(ack, []byte("+TERM")); err != nil {
		t.Fatal(err)
	}
	members.denied(t, "Publish to", ack)

	// Billing's commands are all still there, undelivered; no new consumer.
	info, err := f.admin.js.Consumer(ctx, stream, natsauth.Holder("billing"))
	if err != nil {
		t.Fatal(err)
	}
	if st := info.CachedInfo(); st.NumPending != 2 || st.Delivered.Consumer != 0 {
		t.Fatalf("billing's durable: %d pending, %d delivered; want 2 and 0", st.NumPending, st.Delivered.Consumer)
	}
	if _, err := f.admin.js.Consumer(ctx, stream, natsauth.Holder("members")); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("members' durable: %v; want none created", err)
	}
}

func TestOnlyTheAdminCreatesDeletesOrPurgesStreams(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ns, stream := f.ns, f.ns.StreamCommands()
	ctx := ctxT(t, testinfra.Timeout)
	worker, members := f.connect(t, natsauth.Worker), f.connect(t, natsauth.Holder("members"))
	if _, err := bus.Publish(ctx, worker.js, ns.Command("billing", "erase"), "r1.billing.1", "r1", &dsrv1.HolderCommand{CommandId: "c1"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{members, worker} {
		s, err := c.js.Stream(ctx, stream) // looking it up is allowed
		if err != nil {
			t.Fatal(err)
		}
		short := func() context.Context { return ctxT(t, 500*time.Millisecond) }
		if err := s.Purge(short()); err == nil {
			t.Fatalf("%s purged %s", c.user, stream)
		}
		c.denied(t, "Publish to", "$JS.API.STREAM.PURGE."+stream)
		if err := c.js.DeleteStream(short(), stream); err == nil {
			t.Fatalf("%s deleted %s", c.user, stream)
		}
		c.denied(t, "Publish to", "$JS.API.STREAM.DELETE."+stream)
		cfg := s.CachedInfo().Config
		cfg.Subjects = append(cfg.Subjects, ns.Root+".forged.>")
		if _, err := c.js.UpdateStream(short(), cfg); err == nil {
			t.Fatalf("%s updated %s", c.user, stream)
		}
		c.denied(t, "Publish to", "$JS.API.STREAM.UPDATE."+stream)
		if _, err := c.js.CreateStream(short(), jetstream.StreamConfig{Name: "FORGED", Subjects: []string{ns.Root + ".results.>.x"}}); err == nil {
			t.Fatalf("%s created a stream", c.user)
		}
		c.denied(t, "Publish to", "$JS.API.STREAM.CREATE.FORGED")
		if err := c.js.DeleteConsumer(short(), stream, natsauth.Holder("members")); err == nil {
			t.Fatalf("%s deleted a consumer", c.user)
		}
		c.denied(t, "Publish to", "$JS.API.CONSUMER.DELETE."+stream+".holder-members")
	}
	s, err := f.admin.js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream after the attempts: %v", err)
	}
	if st := s.CachedInfo(); st.State.Msgs != 1 || len(st.Config.Subjects) != 1 {
		t.Fatalf("stream %s: %d messages, subjects %v; want the command kept and the subjects unchanged", stream, st.State.Msgs, st.Config.Subjects)
	}
	if err := s.Purge(ctx); err != nil {
		t.Fatalf("the admin purges: %v", err)
	}
}

func TestAClientWithoutItsCredentialsIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if nc, err := nats.Connect(f.url); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("connect without credentials: %v; want an authorization violation", err)
	}
	seed, _, err := natsauth.NewSeed()
	if err != nil {
		t.Fatal(err)
	}
	opts, _ := natsauth.ConnectOptions(natsauth.Admin, seed)
	if nc, err := nats.Connect(f.url, opts...); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("connect with an unknown nkey: %v; want an authorization violation", err)
	}
	if nc, err := nats.Connect(f.url, nats.UserInfo("admin", "admin")); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("connect with a guessed password: %v; want an authorization violation", err)
	}
}

func TestTheIntakeCannotPublishAResultACommandOrAnEvent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ns, intake := f.ns, f.connect(t, natsauth.Intake)
	f.publishDenied(t, intake, ns.StreamResults(), ns.Result("members"), &dsrv1.HolderResult{CommandId: "forged"})
	f.publishDenied(t, intake, ns.StreamEvents(), ns.RequestConcluded(),
		&dsrv1.RequestConcluded{RequestId: "forged", ConcludedAt: timestamppb.New(time.Now().AddDate(-5, 0, 0))})
	f.publishDenied(t, intake, ns.StreamEvents(), ns.ErasureCompleted(), &dsrv1.ErasureCompleted{RequestId: "forged"})
	f.publishDenied(t, intake, ns.StreamCommands(), ns.Command("members", "erase"), &dsrv1.HolderCommand{CommandId: "forged"})
	f.publishDenied(t, intake, ns.StreamDeadLetter(), ns.DeadLetter("dispatcher"), &dsrv1.RequestSubmitted{RequestId: "forged"})
}

func TestAnErasureSubscriberCannotPublish(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ns, search := f.ns, f.connect(t, natsauth.ErasureSubscriber("search"))
	f.publishDenied(t, search, ns.StreamEvents(), ns.ErasureCompleted(), &dsrv1.ErasureCompleted{RequestId: "forged"})
	f.publishDenied(t, search, ns.StreamEvents(), ns.RequestConcluded(), &dsrv1.RequestConcluded{RequestId: "forged"})
	f.publishDenied(t, search, ns.StreamResults(), ns.Result("members"), &dsrv1.HolderResult{CommandId: "forged"})
	f.publishDenied(t, search, ns.StreamCommands(), ns.Command("members", "erase"), &dsrv1.HolderCommand{CommandId: "forged"})
	f.publishDenied(t, search, ns.StreamRequests(), ns.RequestSubmitted(), &dsrv1.RequestSubmitted{RequestId: "forged"})
}

func TestTheConfigurationFilesGrantWhatTheEmbeddedServerGrants(t *testing.T) {
	ns, _ := contract.NewNamespace("dsr")
	l := natsauth.Layout{Namespace: ns, Holders: []string{"members", "billing"}, ErasureSubscribers: []string{"search"}}
	want, pubs := serverUsers(t, l, map[string]string{})
	for u, pub := range pubs {
		t.Setenv(natsauth.KeyVar(u), pub)
	}
	perms, _ := l.Permissions()
	dir := t.TempDir()
	load := func(name, auth string) []*server.NkeyUser {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(auth), 0o600); err != nil {
			t.Fatal(err)
		}
		main := filepath.Join(dir, name+".main")
		if err := os.WriteFile(main, []byte("port: -1\ninclude "+name+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		opts, err := server.ProcessConfigFile(main)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, auth)
		}
		return opts.Nkeys
	}
	same := func(what string, got []*server.NkeyUser) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d users, want %d", what, len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.Nkey != w.Nkey || (g.Permissions == nil) != (w.Permissions == nil) {
				t.Fatalf("%s: user %d is %s (permissions %v), want %s (%v)", what, i, g.Nkey, g.Permissions, w.Nkey, w.Permissions)
			}
			if w.Permissions != nil && (!reflect.DeepEqual(g.Permissions.Publish.Allow, w.Permissions.Publish.Allow) ||
				!reflect.DeepEqual(g.Permissions.Subscribe.Allow, w.Permissions.Subscribe.Allow) || g.Permissions.Publish.Deny != nil) {
				t.Fatalf("%s: user %d grants %+v / %+v, want %+v / %+v", what, i, g.Permissions.Publish, g.Permissions.Subscribe,
					w.Permissions.Publish, w.Permissions.Subscribe)
			}
		}
	}
	same("nats.conf", load("auth.conf", natsauth.ConfigFile(perms)))

	// The Helm chart renders config.merge as JSON and "<< $X >>" as $X.
	values, err := natsauth.HelmValues(perms, "madoguchi-nats-users")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Config struct {
			Merge map[string]any `yaml:"merge"`
		} `yaml:"config"`
		Container struct {
			Env map[string]struct {
				ValueFrom struct {
					ConfigMapKeyRef struct{ Name, Key string } `yaml:"configMapKeyRef"`
				} `yaml:"valueFrom"`
			} `yaml:"env"`
		} `yaml:"container"`
	}
	if err := yaml.Unmarshal([]byte(values), &v); err != nil {
		t.Fatal(err)
	}
	var j strings.Builder
	enc := json.NewEncoder(&j)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v.Config.Merge); err != nil {
		t.Fatal(err)
	}
	unquoted := regexp.MustCompile(`"<<\s+(.*?)\s+>>"`).ReplaceAllString(j.String(), "$1")
	same("helm values", load("helm.conf", unquoted))
	for u := range pubs {
		if e := v.Container.Env[natsauth.KeyVar(u)]; e.ValueFrom.ConfigMapKeyRef.Name != "madoguchi-nats-users" ||
			e.ValueFrom.ConfigMapKeyRef.Key != natsauth.KeyVar(u) {
			t.Errorf("helm values: container.env %s = %+v; want it from the ConfigMap", natsauth.KeyVar(u), e)
		}
	}
}

func TestNamesThatAreNotSubjectTokensAreRefused(t *testing.T) {
	for _, bad := range []string{"", "a.b", "a*", ">", "Members", "a b"} {
		l := natsauth.Layout{Namespace: contract.Default, Holders: []string{bad}}
		if _, err := l.Permissions(); err == nil {
			t.Errorf("holder %q accepted", bad)
		}
	}
	if _, ok := natsauth.Of(contract.Default, "holder-a.b"); ok {
		t.Error("user holder-a.b has a role")
	}
	if _, ok := natsauth.Of(contract.Default, "staff"); ok {
		t.Error("user staff has a role")
	}
}
