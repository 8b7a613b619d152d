package bus_test

import (
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.yaml.in/yaml/v3"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/proto/contract"
)

// The production cluster declares streams, the packages object store and
// consumers as NACK resources (deploy/kubernetes/nack); the components
// declare the same at start-up. If the two differ, each start-up silently
// rewrites what the operator applied (or fails on an immutable field), so
// the manifests must match the code exactly.

const nackDir = "../../deploy/kubernetes/nack/"

// nackResource is one document of a NACK manifest; spec keeps the YAML
// field names.
type nackResource struct {
	Kind string         `yaml:"kind"`
	Spec map[string]any `yaml:"spec"`
}

func readNACK(t *testing.T, file string) []nackResource {
	t.Helper()
	f, err := os.Open(nackDir + file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []nackResource
	dec := yaml.NewDecoder(f)
	for {
		var r nackResource
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if r.Kind != "" {
			out = append(out, r)
		}
	}
}

func specString(r nackResource, key string) string {
	v, _ := r.Spec[key].(string)
	return v
}

func specInt(r nackResource, key string) int {
	v, _ := r.Spec[key].(int)
	return v
}

func specDuration(t *testing.T, r nackResource, key string) time.Duration {
	t.Helper()
	s := specString(r, key)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s %s: %v", key, s, err)
	}
	return d
}

func specStrings(r nackResource, key string) []string {
	var out []string
	if l, ok := r.Spec[key].([]any); ok {
		for _, v := range l {
			s, _ := v.(string)
			out = append(out, s)
		}
	}
	return out
}

// productionOptions are the options the manifests are written for
// (MADOGUCHI_STREAM_REPLICAS=3, the rest default).
var productionOptions = bus.StreamOptions{Replicas: 3}

func productionNamespace(t *testing.T) contract.Namespace {
	t.Helper()
	ns, err := contract.NewNamespace("dsr")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestNACKStreamsMatchTheStreamsTheComponentsDeclare(t *testing.T) {
	ns := productionNamespace(t)
	byName := map[string]nackResource{}
	var store *nackResource
	for _, r := range readNACK(t, "streams.yaml") {
		switch r.Kind {
		case "Stream":
			byName[specString(r, "name")] = r
		case "ObjectStore":
			store = &r
		default:
			t.Errorf("unexpected kind %q in streams.yaml", r.Kind)
		}
	}
	retention := map[jetstream.RetentionPolicy]string{jetstream.LimitsPolicy: "limits", jetstream.WorkQueuePolicy: "workqueue", jetstream.InterestPolicy: "interest"}
	storage := map[jetstream.StorageType]string{jetstream.FileStorage: "file", jetstream.MemoryStorage: "memory"}
	discard := map[jetstream.DiscardPolicy]string{jetstream.DiscardOld: "old", jetstream.DiscardNew: "new"}
	code := bus.StreamConfigs(ns, productionOptions)
	for _, c := range code {
		r, ok := byName[c.Name]
		if !ok {
			t.Errorf("stream %s is declared by the code but has no NACK Stream", c.Name)
			continue
		}
		delete(byName, c.Name)
		for _, d := range []struct {
			field      string
			code, nack any
		}{
			{"description", c.Description, specString(r, "description")},
			{"subjects", strings.Join(c.Subjects, ","), strings.Join(specStrings(r, "subjects"), ",")},
			{"retention", retention[c.Retention], specString(r, "retention")},
			{"maxAge", c.MaxAge, specDuration(t, r, "maxAge")},
			{"duplicateWindow", c.Duplicates, specDuration(t, r, "duplicateWindow")},
			{"storage", storage[c.Storage], specString(r, "storage")},
			{"replicas", c.Replicas, specInt(r, "replicas")},
			{"discard", discard[c.Discard], specString(r, "discard")},
		} {
			if d.code != d.nack {
				t.Errorf("stream %s %s: code %v, NACK %v", c.Name, d.field, d.code, d.nack)
			}
		}
	}
	for name := range byName {
		t.Errorf("NACK Stream %s is not declared by the code", name)
	}

	p := bus.PackagesConfig(ns, productionOptions)
	if store == nil {
		t.Fatal("no NACK ObjectStore for the disclosure packages")
	}
	if specString(*store, "bucket") != p.Bucket || specString(*store, "description") != p.Description ||
		specDuration(t, *store, "ttl") != p.TTL || specInt(*store, "replicas") != p.Replicas ||
		specString(*store, "storage") != storage[p.Storage] {
		t.Errorf("ObjectStore %v differs from the code's %+v", store.Spec, p)
	}
}

func TestNACKConsumersMatchTheConsumersTheComponentsDeclare(t *testing.T) {
	ns := productionNamespace(t)
	streams := map[string][]string{}
	for _, c := range bus.StreamConfigs(ns, productionOptions) {
		streams[c.Name] = c.Subjects
	}
	// Each component's durable consumers (services/bridge, services/intake,
	// services/holderkit with the registry's holders); erasure-<service>
	// consumers belong to the subscribing services.
	want := []string{"dispatcher", "results", "intake-retention", "holder-members", "holder-billing",
		"holder-accesslog", "holder-support", "holder-marketing", "holder-partners"}
	var got []string
	ackPolicy := map[jetstream.AckPolicy]string{jetstream.AckExplicitPolicy: "explicit", jetstream.AckAllPolicy: "all", jetstream.AckNonePolicy: "none"}
	deliver := map[jetstream.DeliverPolicy]string{jetstream.DeliverAllPolicy: "all", jetstream.DeliverNewPolicy: "new", jetstream.DeliverLastPolicy: "last"}
	for _, r := range readNACK(t, "consumers.yaml") {
		if r.Kind != "Consumer" {
			t.Errorf("unexpected kind %q in consumers.yaml", r.Kind)
			continue
		}
		name, stream, filter := specString(r, "durableName"), specString(r, "streamName"), specString(r, "filterSubject")
		got = append(got, name)
		subjects, ok := streams[stream]
		if !ok {
			t.Errorf("consumer %s: stream %s is not declared by the code", name, stream)
		}
		if !slices.ContainsFunc(subjects, func(s string) bool { return subjectWithin(filter, s) }) {
			t.Errorf("consumer %s: filter %q is outside stream %s's subjects %v", name, filter, stream, subjects)
		}
		c := bus.Consumer{Stream: stream, Durable: name, FilterSubjects: []string{filter}}.Config()
		for _, d := range []struct {
			field      string
			code, nack any
		}{
			{"ackPolicy", ackPolicy[c.AckPolicy], specString(r, "ackPolicy")},
			{"ackWait", c.AckWait, specDuration(t, r, "ackWait")},
			{"maxDeliver", c.MaxDeliver, specInt(r, "maxDeliver")},
			{"maxAckPending", c.MaxAckPending, specInt(r, "maxAckPending")},
			{"deliverPolicy", deliver[c.DeliverPolicy], specString(r, "deliverPolicy")},
		} {
			if d.code != d.nack {
				t.Errorf("consumer %s %s: code %v, NACK %v", name, d.field, d.code, d.nack)
			}
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("NACK consumers %v; the components declare %v", got, want)
	}
}

// subjectWithin reports whether every subject filter matches is matched by
// pattern (NATS tokens, * and > wildcards).
func subjectWithin(filter, pattern string) bool {
	f, p := strings.Split(filter, "."), strings.Split(pattern, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(f) > i
		}
		if i >= len(f) || (tok != "*" && tok != f[i]) || (tok == "*" && f[i] == ">") {
			return false
		}
	}
	return len(f) == len(p)
}

func TestSubjectWithin(t *testing.T) {
	for _, c := range []struct {
		filter, pattern string
		want            bool
	}{
		{"dsr.commands.members.>", "dsr.commands.>", true},
		{"dsr.results.>", "dsr.results.>", true},
		{"dsr.events.request.concluded", "dsr.events.>", true},
		{"dsr.requests.submitted", "dsr.requests.submitted", true},
		{"dsr.requests.>", "dsr.requests.submitted", false},
		{"dsr.events", "dsr.events.>", false},
		{"other.commands.x", "dsr.commands.>", false},
	} {
		if got := subjectWithin(c.filter, c.pattern); got != c.want {
			t.Errorf("subjectWithin(%q, %q) = %v", c.filter, c.pattern, got)
		}
	}
}
