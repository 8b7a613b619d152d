package main

// Trust boundaries in the rendered manifests and the compose file: who may
// reach the Temporal frontend and how (mutual TLS, NetworkPolicy), the Web
// UI read-only and behind sign-in, databases verified, mail over STARTTLS.

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// temporalPort is the Temporal frontend's gRPC port.
const temporalPort = "7233/TCP"

// temporalFrontendLabels and temporalWebLabels are the pod labels the
// official chart gives the frontend and the Web UI.
var (
	temporalFrontendLabels = map[string]string{"app.kubernetes.io/name": "temporal", "app.kubernetes.io/component": "frontend"}
	temporalWebLabels      = map[string]string{"app.kubernetes.io/name": "temporal", "app.kubernetes.io/component": "web"}
)

// temporalTLSFiles are the client variables (Madoguchi's temporalconn, the
// temporal CLI and the Web UI read the same names) that mutual TLS needs.
var temporalTLSFiles = []string{"TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA"}

// pathEnv names variables that hold the path of a mounted file, not the
// material itself, although their names look secret (…_KEY).
var pathEnv = regexp.MustCompile(`^(TEMPORAL_TLS_(CERT|KEY|CA)|SMTP_TLS_CA|PGSSL(ROOTCERT|CERT|KEY))$`)

// filePath is what a pathEnv value must look like: an absolute path, which
// no PEM block or base64 key with padding matches.
var filePath = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)

// isFilePathEnv reports whether name is a pathEnv variable holding a path.
func isFilePathEnv(name, value string) bool {
	return pathEnv.MatchString(name) && filePath.MatchString(value)
}

// envVar is one resolved environment variable of a container.
type envVar struct {
	value  string
	secret bool // from a Secret: the value is not known here
}

// envOf resolves the environment of container c: the rendered ConfigMaps
// of its envFrom, then its env (which wins, as in Kubernetes).
func envOf(objs []Object, c any) map[string]envVar {
	out := map[string]envVar{}
	for _, from := range list(c, "envFrom") {
		if name := str(from, "configMapRef", "name"); name != "" {
			if cm := findObject(objs, "ConfigMap", name); cm != nil {
				for k, v := range strMap(cm, "data") {
					out[k] = envVar{value: v}
				}
			}
		}
	}
	for _, e := range list(c, "env") {
		name := str(e, "name")
		switch {
		case get(e, "valueFrom", "secretKeyRef") != nil:
			out[name] = envVar{secret: true}
		case get(e, "valueFrom", "configMapKeyRef") != nil:
			ref := obj(e, "valueFrom", "configMapKeyRef")
			if cm := findObject(objs, "ConfigMap", str(ref, "name")); cm != nil {
				out[name] = envVar{value: str(cm, "data", str(ref, "key"))}
			}
		default:
			out[name] = envVar{value: str(e, "value")}
		}
	}
	return out
}

// secretFile returns the Secret that the file at path in container c of w
// is mounted from, or "".
func secretFile(w workload, c any, path string) string {
	for _, m := range list(c, "volumeMounts") {
		mp := strings.TrimSuffix(str(m, "mountPath"), "/")
		if mp == "" || (!strings.HasPrefix(path, mp+"/") && !(path == mp && str(m, "subPath") != "")) {
			continue
		}
		for _, v := range list(w.spec, "volumes") {
			if str(v, "name") != str(m, "name") {
				continue
			}
			if n := str(v, "secret", "secretName"); n != "" {
				return n
			}
			for _, src := range list(v, "projected", "sources") {
				if n := str(src, "secret", "name"); n != "" {
					return n
				}
			}
		}
	}
	return ""
}

// reachesTemporal reports the first of policies that lets its pods reach
// the Temporal frontend port.
func reachesTemporal(policies []Object) (Object, bool) {
	for _, p := range policies {
		for _, rule := range list(p, "spec", "egress") {
			if portSet(rule)[temporalPort] {
				return p, true
			}
		}
	}
	return nil, false
}

// trustSummary counts what checkTrust found in one rendering.
type trustSummary struct {
	temporalClients, frontendPolicies, databaseClients int
}

func (t trustSummary) parts() []string {
	var parts []string
	if t.temporalClients > 0 {
		parts = append(parts, fmt.Sprintf("%d Temporal clients on mutual TLS", t.temporalClients))
	}
	if t.frontendPolicies > 0 {
		parts = append(parts, "Temporal frontend admitted to selected pods only")
	}
	if t.databaseClients > 0 {
		parts = append(parts, fmt.Sprintf("%d database clients verify-full", t.databaseClients))
	}
	return parts
}

// checkTrust applies the trust-boundary rules to one rendering.
func checkTrust(r Rendered, byKind map[string][]Object, workloads []workload, bad func(string, ...any)) trustSummary {
	var sum trustSummary
	for _, w := range workloads {
		policies := selectingPolicies(byKind["NetworkPolicy"], w)
		p, client := reachesTemporal(policies)
		for _, c := range list(w.spec, "containers") {
			id := w.obj.ID() + " container " + str(c, "name")
			env := envOf(r.Objects, c)
			if client {
				var unset []string
				ok := true
				for _, name := range temporalTLSFiles {
					v, set := env[name]
					switch {
					case !set || (v.value == "" && !v.secret):
						unset = append(unset, name)
					case v.secret || secretFile(w, c, v.value) == "":
						bad("%s: %s=%q is not a file mounted from a Secret (mount the client certificate Secret and point at it)", id, name, v.value)
						ok = false
					}
				}
				if len(unset) > 0 {
					bad("%s: reaches the Temporal frontend (%s allows egress to 7233) without mutual TLS: %s not set", id, p.ID(), strings.Join(unset, ", "))
				}
				if ok && len(unset) == 0 {
					sum.temporalClients++
				}
			}
			if r.Require.DatabaseTLS != "" {
				sum.databaseClients += checkDatabaseTLS(r, w, c, id, env, bad)
			}
		}
	}

	// The frontend admits its port only from selected pods.
	webPolicy := false
	for _, p := range byKind["NetworkPolicy"] {
		sel := obj(p, "spec", "podSelector")
		if selects(sel, temporalWebLabels) && len(strMap(sel, "matchLabels")) > 0 {
			webPolicy = true
		}
		if !selects(sel, temporalFrontendLabels) || len(strMap(sel, "matchLabels")) == 0 {
			continue
		}
		if !slices.Contains(list(p, "spec", "policyTypes"), any("Ingress")) {
			bad("%s: selects the Temporal frontend but does not restrict its ingress (policyTypes lacks Ingress)", p.ID())
			continue
		}
		sum.frontendPolicies++
		for i, rule := range list(p, "spec", "ingress") {
			ports := portSet(rule)
			if len(ports) > 0 && !ports[temporalPort] {
				continue
			}
			peers := list(rule, "from")
			if len(peers) == 0 {
				bad("%s: ingress rule %d admits the Temporal frontend port 7233 from every source", p.ID(), i)
			}
			for _, peer := range peers {
				ps := obj(peer, "podSelector")
				switch {
				case get(peer, "ipBlock") != nil:
					bad("%s: ingress rule %d admits port 7233 from an ipBlock (%s); name the client pods instead", p.ID(), i, str(peer, "ipBlock", "cidr"))
				case ps == nil || (len(strMap(ps, "matchLabels")) == 0 && len(list(ps, "matchExpressions")) == 0):
					bad("%s: ingress rule %d admits port 7233 from every pod of a namespace; select the client pods", p.ID(), i)
				}
			}
		}
	}
	if r.Require.TemporalFrontend {
		if sum.frontendPolicies == 0 {
			bad("no NetworkPolicy restricts who reaches the Temporal frontend (pods %v)", temporalFrontendLabels)
		}
		if !webPolicy {
			bad("no NetworkPolicy restricts who reaches the Temporal Web UI (pods %v)", temporalWebLabels)
		}
	}

	// Mail leaves over STARTTLS unless the relay is on the same host.
	for _, cm := range byKind["ConfigMap"] {
		data := strMap(cm, "data")
		mode, set := data["SMTP_STARTTLS"]
		switch {
		case !set || mode == "required":
		case mode == "none":
			if !loopbackAddr(data["SMTP_ADDR"]) {
				bad("%s: SMTP_STARTTLS=none with SMTP_ADDR %q: notices would cross the network in clear (none is for a loopback relay only)", cm.ID(), data["SMTP_ADDR"])
			}
		default:
			bad("%s: SMTP_STARTTLS %q: want required or none", cm.ID(), mode)
		}
	}
	return sum
}

// checkDatabaseTLS: a container given a database URL verifies the server
// against a CA mounted from a Secret. It returns 1 for a container that
// has a database URL and passes.
func checkDatabaseTLS(r Rendered, w workload, c any, id string, env map[string]envVar, bad func(string, ...any)) int {
	var urls []string
	for name, v := range env {
		if strings.HasSuffix(name, "_DATABASE_URL") {
			urls = append(urls, name)
			if m := regexp.MustCompile(`sslmode=([a-z-]+)`).FindStringSubmatch(v.value); m != nil && m[1] != r.Require.DatabaseTLS {
				bad("%s: %s asks for sslmode=%s; %s requires %s", id, name, m[1], r.Path, r.Require.DatabaseTLS)
			}
		}
	}
	if len(urls) == 0 {
		return 0
	}
	slices.Sort(urls)
	ok := true
	if mode := env["PGSSLMODE"]; mode.value != r.Require.DatabaseTLS {
		bad("%s: %s is used without verifying the server: PGSSLMODE must be %s (is %q)", id, strings.Join(urls, ", "), r.Require.DatabaseTLS, mode.value)
		ok = false
	}
	if ca := env["PGSSLROOTCERT"]; ca.value == "" || secretFile(w, c, ca.value) == "" {
		bad("%s: PGSSLROOTCERT=%q is not a CA file mounted from a Secret (the database cluster's <cluster>-ca, key ca.crt)", id, ca.value)
		ok = false
	}
	if ok {
		return 1
	}
	return 0
}

// loopbackAddr reports whether host:port names a loopback address.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// composeTrust checks the compose project's Temporal services: the server's
// frontend on mutual TLS, every client (Madoguchi, temporal CLI, Web UI)
// presenting a mounted certificate, the Web UI read-only and, when it
// publishes a port, behind OpenID Connect sign-in. It returns the problems
// and a summary.
func composeTrust(project *types.Project) ([]string, string) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	env := func(s types.ServiceConfig, name string) string {
		if v, ok := s.Environment[name]; ok && v != nil {
			return *v
		}
		return ""
	}
	mounted := func(s types.ServiceConfig, path string) bool {
		for _, v := range s.Volumes {
			t := strings.TrimSuffix(v.Target, "/")
			if t != "" && (path == t || strings.HasPrefix(path, t+"/")) {
				return true
			}
		}
		return false
	}
	clientTLS := func(s types.ServiceConfig, what string) {
		var unset []string
		for _, name := range temporalTLSFiles {
			switch v := env(s, name); {
			case v == "":
				unset = append(unset, name)
			case !mounted(s, v):
				bad("service %s: %s=%s is not inside a mounted volume", s.Name, name, v)
			}
		}
		if len(unset) > 0 {
			bad("service %s: %s without mutual TLS: %s not set", s.Name, what, strings.Join(unset, ", "))
		}
	}
	servers, uis, clients := 0, 0, 0
	names := project.ServiceNames()
	slices.Sort(names)
	// A client is a service with TEMPORAL_ADDRESS on a network of the
	// server's (the shared environment gives every Madoguchi service the
	// address, but only some may reach the server).
	serverNets := map[string]bool{}
	for _, s := range project.Services {
		if strings.HasPrefix(s.Image, "temporalio/server") {
			for n := range s.Networks {
				serverNets[n] = true
			}
		}
	}
	reaches := func(s types.ServiceConfig) bool {
		for n := range s.Networks {
			if serverNets[n] {
				return true
			}
		}
		return false
	}
	for _, name := range names {
		s, _ := project.GetService(name)
		switch image := s.Image; {
		case strings.HasPrefix(image, "temporalio/server"):
			servers++
			for _, v := range []string{"TEMPORAL_TLS_FRONTEND_CERT", "TEMPORAL_TLS_FRONTEND_KEY", "TEMPORAL_TLS_CLIENT1_CA_CERT"} {
				if p := env(s, v); p == "" || !mounted(s, p) {
					bad("service %s: the Temporal frontend has no TLS: %s must name a mounted file (is %q)", s.Name, v, p)
				}
			}
			if env(s, "TEMPORAL_TLS_REQUIRE_CLIENT_AUTH") != "true" {
				bad("service %s: the Temporal frontend must require client certificates: TEMPORAL_TLS_REQUIRE_CLIENT_AUTH=true", s.Name)
			}
		case strings.HasPrefix(image, "temporalio/ui"):
			uis++
			if env(s, "TEMPORAL_DISABLE_WRITE_ACTIONS") != "true" {
				bad("service %s: the Temporal Web UI must be read-only (TEMPORAL_DISABLE_WRITE_ACTIONS=true): staff act through dsrctl, signed and audited", s.Name)
			}
			if len(s.Ports) > 0 {
				if env(s, "TEMPORAL_AUTH_ENABLED") != "true" {
					bad("service %s: publishes the Temporal Web UI without sign-in: TEMPORAL_AUTH_ENABLED must be true", s.Name)
				}
				var unset []string
				for _, v := range []string{"TEMPORAL_AUTH_PROVIDER_URL", "TEMPORAL_AUTH_CLIENT_ID", "TEMPORAL_AUTH_CLIENT_SECRET", "TEMPORAL_AUTH_CALLBACK_URL"} {
					if env(s, v) == "" {
						unset = append(unset, v)
					}
				}
				if len(unset) > 0 {
					bad("service %s: publishes the Temporal Web UI with sign-in unconfigured: %s not set", s.Name, strings.Join(unset, ", "))
				}
			}
			clientTLS(s, "the Web UI reaches the Temporal frontend")
		default:
			if env(s, "TEMPORAL_ADDRESS") != "" && reaches(s) {
				clients++
				clientTLS(s, "reaches the Temporal frontend")
			}
		}
	}
	return problems, fmt.Sprintf("Temporal: %d server(s) on mutual TLS, %d client(s) with certificates, %d read-only UI(s) behind sign-in", servers, clients, uis)
}
