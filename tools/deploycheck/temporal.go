package main

// Values for the official Temporal chart: the chart is not available
// offline, so the rules read the values the way the chart uses them
// (chart temporal 1.6: server.config.tls is Temporal's global.tls; the Web
// UI and admin-tools read their settings from additionalEnv).

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// mergeValues merges src over dst as Helm merges values files given with
// -f: maps merge key by key, anything else (lists included) is replaced,
// and a null removes the key.
func mergeValues(dst, src map[string]any) map[string]any {
	out := make(map[string]any, len(dst))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if v == nil {
			delete(out, k)
			continue
		}
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(dm, sm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// loadValues reads and merges files (relative to root) in order.
func loadValues(root string, files []string) (map[string]any, error) {
	merged := map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return nil, err
		}
		var v map[string]any
		if err := yaml.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		merged = mergeValues(merged, v)
	}
	return merged, nil
}

// chartPart is one pod spec of the chart as its values describe it: its
// environment (additionalEnv) and its Secret mounts (additionalVolumes,
// additionalVolumeMounts).
type chartPart struct {
	env    map[string]envVar
	mounts map[string]string // mountPath → Secret name
}

func newChartPart(v map[string]any, path ...string) chartPart {
	p := chartPart{env: map[string]envVar{}, mounts: map[string]string{}}
	for _, e := range list(v, append(path, "additionalEnv")...) {
		name := str(e, "name")
		if get(e, "valueFrom", "secretKeyRef") != nil {
			p.env[name] = envVar{secret: true}
			continue
		}
		if val := get(e, "value"); val != nil {
			p.env[name] = envVar{value: fmt.Sprint(val)}
		}
	}
	secrets := map[string]string{}
	for _, vol := range list(v, append(path, "additionalVolumes")...) {
		if n := str(vol, "secret", "secretName"); n != "" {
			secrets[str(vol, "name")] = n
		}
	}
	for _, m := range list(v, append(path, "additionalVolumeMounts")...) {
		if n, ok := secrets[str(m, "name")]; ok {
			p.mounts[strings.TrimSuffix(str(m, "mountPath"), "/")] = n
		}
	}
	return p
}

// secretFile reports whether path is inside a Secret mount of p.
func (p chartPart) secretFile(path string) bool {
	for mp := range p.mounts {
		if mp != "" && strings.HasPrefix(path, mp+"/") {
			return true
		}
	}
	return false
}

// enabled reports whether the chart renders the part at path (enabled is
// true unless set to false).
func enabled(v map[string]any, path ...string) bool {
	b, ok := get(v, append(path, "enabled")...).(bool)
	return !ok || b
}

// truthy reports whether a values or env value means true.
func truthy(v any) bool { return strings.EqualFold(fmt.Sprint(v), "true") }

// checkTemporalValues merges files as `helm -f` does and checks that
//
//   - the frontend serves TLS with a certificate from a mounted Secret and
//     requires client certificates from a CA (mutual TLS), and Temporal's
//     own worker service presents one;
//   - the Web UI is read-only (TEMPORAL_DISABLE_WRITE_ACTIONS) — staff act
//     through dsrctl, where every action is signed and audited — and, when
//     published (ingress, NodePort, LoadBalancer), signs staff in with
//     OpenID Connect, its client secret from a Secret;
//   - the Web UI and admin-tools present client certificates from Secrets.
//
// Every problem names the files and the part of the chart.
func checkTemporalValues(root string, files []string) (summary string, problems []string, err error) {
	v, err := loadValues(root, files)
	if err != nil {
		return "", nil, err
	}
	where := strings.Join(files, " + ")
	bad := func(format string, args ...any) { problems = append(problems, where+": "+fmt.Sprintf(format, args...)) }
	var checked []string

	// Frontend: mutual TLS.
	server := newChartPart(v, "server")
	fe := obj(v, "server", "config", "tls", "frontend", "server")
	const frontend = "server.config.tls.frontend (Temporal frontend)"
	switch {
	case !enabled(v, "server"):
	case fe == nil:
		bad("%s: no TLS: the frontend serves plaintext gRPC; set server.config.tls.frontend.server (certFile, keyFile, requireClientAuth, clientCaFiles)", frontend)
	default:
		for _, k := range []string{"certData", "keyData"} {
			if str(fe, k) != "" {
				bad("%s: %s inlines certificate material in the values; mount a Secret and use %sFile", frontend, k, strings.TrimSuffix(k, "Data"))
			}
		}
		for _, k := range []string{"certFile", "keyFile"} {
			if f := str(fe, k); f == "" || !server.secretFile(f) {
				bad("%s: no TLS: %s %q is not a file in a Secret mounted by server.additionalVolumes", frontend, k, f)
			}
		}
		if b, _ := get(fe, "requireClientAuth").(bool); !b {
			bad("%s: requireClientAuth must be true (mutual TLS): without it anyone who reaches the port is a client", frontend)
		}
		cas := list(fe, "clientCaFiles")
		if len(cas) == 0 {
			bad("%s: clientCaFiles is empty: no CA says which client certificates are accepted", frontend)
		}
		for _, ca := range cas {
			if f, _ := ca.(string); !server.secretFile(f) {
				bad("%s: clientCaFiles entry %q is not a file in a mounted Secret", frontend, f)
			}
		}
		sw := obj(v, "server", "config", "tls", "systemWorker")
		if f := str(sw, "certFile"); f == "" || !server.secretFile(f) || !server.secretFile(str(sw, "keyFile")) {
			bad("server.config.tls.systemWorker (Temporal's worker service): needs certFile and keyFile from a mounted Secret, or the frontend refuses it")
		}
		checked = append(checked, "frontend mutual TLS")
	}

	// Web UI: read-only, sign-in when published, client certificate.
	if enabled(v, "web") {
		web := newChartPart(v, "web")
		const ui = "web (Temporal Web UI)"
		if !truthy(web.env["TEMPORAL_DISABLE_WRITE_ACTIONS"].value) {
			bad("%s: write actions are enabled: set TEMPORAL_DISABLE_WRITE_ACTIONS=true in web.additionalEnv (staff act through dsrctl, signed and audited)", ui)
		}
		publishedBy := ""
		if b, _ := get(v, "web", "ingress", "enabled").(bool); b {
			publishedBy = "web.ingress"
		} else if t := str(v, "web", "service", "type"); t == "NodePort" || t == "LoadBalancer" {
			publishedBy = "web.service.type " + t
		}
		if publishedBy != "" {
			if !truthy(web.env["TEMPORAL_AUTH_ENABLED"].value) {
				bad("%s: published by %s without sign-in: set TEMPORAL_AUTH_ENABLED=true and the OpenID Connect provider", ui, publishedBy)
			}
			for _, k := range []string{"TEMPORAL_AUTH_PROVIDER_URL", "TEMPORAL_AUTH_CALLBACK_URL"} {
				if u := web.env[k].value; !strings.HasPrefix(u, "https://") {
					bad("%s: published by %s: %s must be an https URL (is %q)", ui, publishedBy, k, u)
				}
			}
			if web.env["TEMPORAL_AUTH_CLIENT_ID"].value == "" {
				bad("%s: published by %s: TEMPORAL_AUTH_CLIENT_ID is not set", ui, publishedBy)
			}
			if !web.env["TEMPORAL_AUTH_CLIENT_SECRET"].secret {
				bad("%s: published by %s: TEMPORAL_AUTH_CLIENT_SECRET must come from a Secret (valueFrom.secretKeyRef)", ui, publishedBy)
			}
			if !slices.Contains(strings.Split(web.env["TEMPORAL_AUTH_SCOPES"].value, ","), "openid") {
				bad("%s: published by %s: TEMPORAL_AUTH_SCOPES must include openid", ui, publishedBy)
			}
		}
		checkChartClient(web, ui, "web", bad)
		if !truthy(web.env["TEMPORAL_TLS_ENABLE_HOST_VERIFICATION"].value) {
			bad("%s: TEMPORAL_TLS_ENABLE_HOST_VERIFICATION must be true (the UI would accept any certificate from its CA)", ui)
		}
		if publishedBy != "" {
			checked = append(checked, "Web UI read-only behind OpenID Connect")
		} else {
			checked = append(checked, "Web UI read-only (not published)")
		}
	}
	if enabled(v, "admintools") {
		checkChartClient(newChartPart(v, "admintools"), "admintools (temporal CLI)", "admintools", bad)
		checked = append(checked, "admin-tools with a client certificate")
	}
	return strings.Join(checked, ", "), problems, nil
}

// checkChartClient: a Temporal client of the chart presents a certificate
// and trusts a CA, all files from mounted Secrets.
func checkChartClient(p chartPart, part, key string, bad func(string, ...any)) {
	for _, name := range temporalTLSFiles {
		switch f := p.env[name].value; {
		case f == "":
			bad("%s: reaches the mutual-TLS frontend without %s in %s.additionalEnv", part, name, key)
		case !p.secretFile(f):
			bad("%s: %s=%q is not a file in a Secret mounted by %s.additionalVolumes", part, name, f, key)
		}
	}
}
