// Package natsauth says who may do what on NATS: one user per component,
// each allowed the subjects its code uses and nothing else, written once
// here for the embedded nats-server of the dev stack and the tests
// (ServerUsers) and for the servers in deploy/ (ConfigFile, HelmValues).
//
// Without it any client could publish a holder's result (a forged "locate
// done"), a request.concluded event with an old date (the intake's
// retention purge then erases a live request's personal data) or an
// erasure event, and read every holder's commands. With it:
//
//   - the intake publishes request announcements only, and reads the
//     request.concluded events through its own durable and the disclosure
//     packages it shows;
//   - the bridge reads requests and results through its own durables;
//   - the worker alone publishes commands and events and writes the
//     packages object store;
//   - holder <h> reads only its own commands (durable holder-<h>) and
//     publishes only its own results;
//   - erasure subscriber <s> reads erasure events through durable
//     erasure-<s>;
//   - each consumer dead-letters under its own name only;
//   - nobody but the admin creates, updates, deletes or purges a stream
//     (`madoguchi nats-setup`); a component may look its streams up,
//     create or update its own durable (the filter is part of the API
//     subject, and the server refuses a body whose filter differs), fetch
//     from it and ack it;
//   - each user receives replies on its own inbox prefix (InboxPrefix):
//     pull deliveries travel to the requester's inbox, so one shared
//     `_INBOX.>` would let any holder subscribe to the commands delivered to
//     the others.
//
// Users are nkeys (Ed25519): the server configuration holds public keys
// only, so it carries no secret, not even a password hash to crack
// offline; a client proves its seed by signing the server's nonce, so the
// seed never crosses the wire; and no bcrypt cost is paid per connection.
//
// The deliver subject of a push consumer is not checked against its
// creator's permissions by nats-server. Every durable here (Durables) is a
// pull consumer, created ahead by the admin, which the server never lets an
// update turn into a push one; only the intake may create (ephemeral, push)
// consumers, on the packages store, which deliver the worker's sealed
// chunks, not messages the intake could write.
package natsauth

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"madoguchi.dev/proto/contract"
)

// User names.
const (
	// Admin declares the streams and the object store (madoguchi
	// nats-setup, NACK) and may do anything; no component runs as admin.
	Admin  = "admin"
	Intake = "intake"
	Bridge = "bridge"
	Worker = "worker"
)

// Holder is the user (and durable consumer) of holder name.
func Holder(name string) string { return "holder-" + name }

// ErasureSubscriber is the user (and durable consumer) of an internal
// service that forgets people on erasure events (holderkit.OnErasure).
func ErasureSubscriber(name string) string { return "erasure-" + name }

// InboxPrefix is where user's replies arrive ("_INBOX.<user>"): set it with
// nats.CustomInboxPrefix (ConnectOptions does).
func InboxPrefix(user string) string { return "_INBOX." + user }

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,40}$`)

// Permissions are one user's allow lists; anything else is refused.
type Permissions struct {
	User string
	// Unrestricted: every subject (the admin only).
	Unrestricted bool
	// Publish lists the subjects the user may publish to, JetStream API
	// requests and acks included.
	Publish []string
	// Subscribe lists what it may subscribe to: its own inbox.
	Subscribe []string
	// Streams names the streams (and the packages store's stream) the user
	// works on; a component checks at start that they exist.
	Streams []string
	// Durables are the pull consumers the user reads through.
	Durables []Durable
}

// Durable is one durable pull consumer: its stream, name and only filter.
type Durable struct {
	Stream, Name, Filter string
}

// Layout is what the permissions are written for: a namespace, its holders
// and its erasure subscribers.
type Layout struct {
	Namespace          contract.Namespace
	Holders            []string
	ErasureSubscribers []string
}

// Users lists every user of l: the admin, intake, bridge, worker, then the
// holders and erasure subscribers, each sorted.
func (l Layout) Users() []string {
	users := []string{Admin, Intake, Bridge, Worker}
	for _, h := range sorted(l.Holders) {
		users = append(users, Holder(h))
	}
	for _, s := range sorted(l.ErasureSubscribers) {
		users = append(users, ErasureSubscriber(s))
	}
	return users
}

// Permissions returns every user's permissions, in Users order.
func (l Layout) Permissions() ([]Permissions, error) {
	for _, n := range append(slices.Clone(l.Holders), l.ErasureSubscribers...) {
		if !nameRE.MatchString(n) {
			return nil, fmt.Errorf("natsauth: name %q must match %s", n, nameRE)
		}
	}
	var out []Permissions
	for _, u := range l.Users() {
		p, ok := Of(l.Namespace, u)
		if !ok {
			return nil, fmt.Errorf("natsauth: no role for user %q", u)
		}
		out = append(out, p)
	}
	return out, nil
}

// Of returns the permissions of user in ns; false for a user no role
// describes.
func Of(ns contract.Namespace, user string) (Permissions, bool) {
	p := Permissions{User: user, Subscribe: []string{InboxPrefix(user) + ".>"}}
	packages := packagesStream(ns)
	switch {
	case user == Admin:
		return Permissions{User: user, Unrestricted: true}, true
	case user == Intake:
		p.Publish = []string{ns.RequestSubmitted()}
		p.consume(ns, ns.StreamEvents(), "intake-retention", ns.RequestConcluded())
		p.readPackages(ns)
		p.Streams = []string{ns.StreamRequests(), ns.StreamEvents(), ns.StreamDeadLetter(), packages}
	case user == Bridge:
		p.consume(ns, ns.StreamRequests(), "dispatcher", ns.RequestSubmitted())
		p.consume(ns, ns.StreamResults(), "results", ns.AllResults())
		p.Streams = []string{ns.StreamRequests(), ns.StreamResults(), ns.StreamDeadLetter()}
	case user == Worker:
		p.Publish = []string{ns.Root + ".commands.>", ns.Root + ".events.>"}
		p.writePackages(ns)
		p.Streams = []string{ns.StreamCommands(), ns.StreamEvents(), packages}
	case strings.HasPrefix(user, "holder-") && nameRE.MatchString(strings.TrimPrefix(user, "holder-")):
		h := strings.TrimPrefix(user, "holder-")
		p.Publish = []string{ns.Result(h)}
		p.consume(ns, ns.StreamCommands(), user, ns.CommandsFor(h))
		p.Streams = []string{ns.StreamCommands(), ns.StreamResults(), ns.StreamDeadLetter()}
	case strings.HasPrefix(user, "erasure-") && nameRE.MatchString(strings.TrimPrefix(user, "erasure-")):
		p.consume(ns, ns.StreamEvents(), user, ns.ErasureCompleted())
		p.Streams = []string{ns.StreamEvents(), ns.StreamDeadLetter()}
	default:
		return Permissions{}, false
	}
	for _, s := range p.Streams {
		p.Publish = append(p.Publish, "$JS.API.STREAM.INFO."+s)
	}
	return p, true
}

// consume allows one durable pull consumer: create or update it with this
// filter only, look it up, fetch from it, ack its messages (both ack
// subject formats of nats-server), and dead-letter under its name.
func (p *Permissions) consume(ns contract.Namespace, stream, durable, filter string) {
	p.Durables = append(p.Durables, Durable{Stream: stream, Name: durable, Filter: filter})
	p.Publish = append(p.Publish,
		"$JS.API.CONSUMER.CREATE."+stream+"."+durable+"."+filter,
		"$JS.API.CONSUMER.INFO."+stream+"."+durable,
		"$JS.API.CONSUMER.MSG.NEXT."+stream+"."+durable,
		"$JS.ACK."+stream+"."+durable+".>",
		"$JS.ACK.*.*."+stream+"."+durable+".>",
		ns.DeadLetter(durable),
	)
}

// readPackages allows opening disclosure packages (disclosure.Store.Open):
// the object's metadata by direct get, its chunks through an ordered
// consumer filtered on one object's chunks (with its flow control).
func (p *Permissions) readPackages(ns contract.Namespace) {
	b, s := ns.PackagesBucket(), packagesStream(ns)
	p.Publish = append(p.Publish,
		"$JS.API.DIRECT.GET."+s+".$O."+b+".M.*",
		"$JS.API.CONSUMER.CREATE."+s+".*.$O."+b+".C.*",
		"$JS.API.CONSUMER.DELETE."+s+".*",
		"$JS.FC."+s+".>",
		"$JS.FC.*.*."+s+".>",
	)
}

// writePackages allows storing and deleting packages (disclosure.Store.Put,
// Delete): publishing chunks and metadata, reading metadata, and the
// filtered purge with which nats.go deletes an object's chunks. This purge
// is the one a component may make, on the packages store only.
func (p *Permissions) writePackages(ns contract.Namespace) {
	b, s := ns.PackagesBucket(), packagesStream(ns)
	p.Publish = append(p.Publish,
		"$O."+b+".>",
		"$JS.API.DIRECT.GET."+s+".$O."+b+".M.*",
		"$JS.API.STREAM.PURGE."+s,
	)
}

// packagesStream is the stream behind the packages object store.
func packagesStream(ns contract.Namespace) string { return "OBJ_" + ns.PackagesBucket() }

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
