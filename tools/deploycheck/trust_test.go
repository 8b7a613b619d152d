package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rendering decodes a YAML stream as the output of the kustomization path.
func rendering(t *testing.T, path, stream string, require func(*Kustomization)) Rendered {
	t.Helper()
	objs, err := splitYAML([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	k := Kustomization{Path: path}
	if require != nil {
		require(&k)
	}
	return Rendered{Kustomization: k, Objects: objs}
}

// assertProblem checks that one of problems contains every part.
func assertProblem(t *testing.T, problems []string, parts ...string) {
	t.Helper()
	for _, p := range problems {
		all := true
		for _, part := range parts {
			all = all && strings.Contains(p, part)
		}
		if all {
			return
		}
	}
	t.Errorf("no problem names all of %q; got:\n  %s", parts, strings.Join(problems, "\n  "))
}

func assertNoProblem(t *testing.T, problems []string, part string) {
	t.Helper()
	for _, p := range problems {
		if strings.Contains(p, part) {
			t.Errorf("unexpected problem: %s", p)
		}
	}
}

// A Temporal client: a Deployment whose NetworkPolicy lets it reach 7233,
// with the TLS part of its container given by tls.
func temporalClient(name, tls string) string {
	return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, labels: {app.kubernetes.io/name: madoguchi}}
spec:
  selector: {matchLabels: {app.kubernetes.io/component: ` + name + `}}
  template:
    metadata: {labels: {app.kubernetes.io/name: madoguchi, app.kubernetes.io/component: ` + name + `}}
    spec:
      containers:
        - name: c
          image: madoguchi:1
` + tls + `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ` + name + `}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/component: ` + name + `}}
  policyTypes: [Ingress, Egress]
  egress:
    - to: [{podSelector: {matchLabels: {app.kubernetes.io/name: temporal, app.kubernetes.io/component: frontend}}}]
      ports: [{port: 7233, protocol: TCP}]
`
}

const mountedTLS = `          envFrom: [{configMapRef: {name: tls-paths}}]
          env:
            - {name: TEMPORAL_TLS_KEY, value: /etc/madoguchi/temporal-tls/tls.key}
          volumeMounts: [{name: t, mountPath: /etc/madoguchi/temporal-tls, readOnly: true}]
      volumes: [{name: t, secret: {secretName: madoguchi-x-temporal-tls}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: tls-paths}
data:
  TEMPORAL_TLS_CERT: /etc/madoguchi/temporal-tls/tls.crt
  TEMPORAL_TLS_CA: /etc/madoguchi/temporal-tls/ca.crt`

func TestTemporalClientWithoutMutualTLSFails(t *testing.T) {
	r := rendering(t, "deploy/kubernetes/overlays/bad", temporalClient("madoguchi-bridge", "")+"---\n"+temporalClient("madoguchi-worker", mountedTLS), nil)
	problems, summary := CheckPolicy(r)
	assertProblem(t, problems, "deploy/kubernetes/overlays/bad", "Deployment/madoguchi-bridge", "without mutual TLS",
		"TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA not set")
	assertNoProblem(t, problems, "Deployment/madoguchi-worker container c: reaches")
	// The key's path is not mistaken for a key, in env or a ConfigMap.
	assertNoProblem(t, problems, "TEMPORAL_TLS_KEY must come from a Secret")
	assertNoProblem(t, problems, "belongs in a Secret")
	if !strings.Contains(summary, "1 Temporal clients on mutual TLS") {
		t.Errorf("summary %q", summary)
	}

	// Files that are not in a mounted Secret do not count.
	unmounted := strings.Replace(mountedTLS, "mountPath: /etc/madoguchi/temporal-tls", "mountPath: /elsewhere", 1)
	problems, _ = CheckPolicy(rendering(t, "deploy/kubernetes/overlays/bad", temporalClient("madoguchi-intake", unmounted), nil))
	assertProblem(t, problems, "deploy/kubernetes/overlays/bad", "Deployment/madoguchi-intake", "TEMPORAL_TLS_CERT=", "not a file mounted from a Secret")
}

func TestKeyMaterialInAPathVariableFails(t *testing.T) {
	r := rendering(t, "deploy/kubernetes/overlays/bad", `
apiVersion: v1
kind: ConfigMap
metadata: {name: madoguchi-config}
data:
  TEMPORAL_TLS_KEY: "-----BEGIN EC PRIVATE KEY----- MHcCAQEE"
  SMTP_STARTTLS: none
  SMTP_ADDR: smtp.example.com:25
`, nil)
	problems, _ := CheckPolicy(r)
	assertProblem(t, problems, "deploy/kubernetes/overlays/bad", "ConfigMap/madoguchi-config", "TEMPORAL_TLS_KEY must be the path")
	assertProblem(t, problems, "deploy/kubernetes/overlays/bad", "ConfigMap/madoguchi-config", "SMTP_STARTTLS=none", "in clear")
}

const frontendPolicy = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: temporal-frontend, namespace: temporal}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: temporal, app.kubernetes.io/component: frontend}}
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: madoguchi}}
          podSelector: {matchLabels: {app.kubernetes.io/component: worker}}
      ports: [{port: 7233}]
    - from:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
      ports: [{port: 9090}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: temporal-web, namespace: temporal}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: temporal, app.kubernetes.io/component: web}}
  policyTypes: [Ingress]
  ingress:
    - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
      ports: [{port: 8080}]
`

func TestTemporalFrontendOpenToEveryoneFails(t *testing.T) {
	need := func(k *Kustomization) { k.Require.TemporalFrontend = true }
	const path = "deploy/kubernetes/engines/temporal/security"
	problems, summary := CheckPolicy(rendering(t, path, frontendPolicy, need))
	if len(problems) > 0 || !strings.Contains(summary, "Temporal frontend admitted to selected pods only") {
		t.Errorf("good policy: %v (%s)", problems, summary)
	}
	for name, c := range map[string]struct{ from, want string }{
		"every source":    {"[]", "from every source"},
		"whole namespace": {"[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: madoguchi}}}]", "every pod of a namespace"},
		"ipBlock":         {"[{ipBlock: {cidr: 0.0.0.0/0}}]", "from an ipBlock (0.0.0.0/0)"},
	} {
		bad := strings.Replace(frontendPolicy, `
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: madoguchi}}
          podSelector: {matchLabels: {app.kubernetes.io/component: worker}}`, " "+c.from, 1)
		problems, _ := CheckPolicy(rendering(t, path, bad, need))
		t.Run(name, func(t *testing.T) { assertProblem(t, problems, path, "NetworkPolicy/temporal-frontend", c.want) })
	}
	problems, _ = CheckPolicy(rendering(t, path, temporalClient("x", mountedTLS), need))
	assertProblem(t, problems, path, "no NetworkPolicy restricts who reaches the Temporal frontend")
	assertProblem(t, problems, path, "no NetworkPolicy restricts who reaches the Temporal Web UI")
}

func TestDatabaseURLWithoutVerifyFullFails(t *testing.T) {
	db := func(tls string) string {
		return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: madoguchi-intake, labels: {app.kubernetes.io/name: madoguchi}}
spec:
  selector: {matchLabels: {app.kubernetes.io/component: intake}}
  template:
    metadata: {labels: {app.kubernetes.io/name: madoguchi, app.kubernetes.io/component: intake}}
    spec:
      containers:
        - name: intake
          image: madoguchi:1
          env:
            - name: INTAKE_DATABASE_URL
              valueFrom: {secretKeyRef: {name: madoguchi-intake-db-app, key: uri}}
` + tls
	}
	prod := func(k *Kustomization) { k.Require.DatabaseTLS = "verify-full" }
	const path = "deploy/kubernetes/overlays/prod"
	problems, _ := CheckPolicy(rendering(t, path, db(""), prod))
	assertProblem(t, problems, path, "Deployment/madoguchi-intake container intake", "INTAKE_DATABASE_URL is used without verifying the server", "PGSSLMODE must be verify-full")
	assertProblem(t, problems, path, "Deployment/madoguchi-intake container intake", "PGSSLROOTCERT")

	good := db(`            - {name: PGSSLMODE, value: verify-full}
            - {name: PGSSLROOTCERT, value: /etc/madoguchi/db-ca/ca.crt}
          volumeMounts: [{name: db-ca, mountPath: /etc/madoguchi/db-ca, readOnly: true}]
      volumes: [{name: db-ca, secret: {secretName: madoguchi-intake-db-ca, items: [{key: ca.crt, path: ca.crt}]}}]
`)
	problems, summary := CheckPolicy(rendering(t, path, good, prod))
	assertNoProblem(t, problems, "verif")
	assertNoProblem(t, problems, "PGSSLROOTCERT")
	if !strings.Contains(summary, "1 database clients verify-full") {
		t.Errorf("summary %q", summary)
	}
	// Without the requirement (the dev overlay), nothing is asked.
	problems, _ = CheckPolicy(rendering(t, "deploy/kubernetes/overlays/dev", db(""), nil))
	assertNoProblem(t, problems, "PGSSLMODE")
}

// writeFiles writes name → content under a fresh directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// lockedValues are Temporal chart values that pass: frontend mutual TLS,
// a read-only UI published behind OpenID Connect, clients with certificates.
const lockedValues = `
server:
  config:
    tls:
      frontend:
        server:
          certFile: /etc/temporal/frontend-tls/tls.crt
          keyFile: /etc/temporal/frontend-tls/tls.key
          requireClientAuth: true
          clientCaFiles: [/etc/temporal/frontend-tls/ca.crt]
      systemWorker:
        certFile: /etc/temporal/worker-tls/tls.crt
        keyFile: /etc/temporal/worker-tls/tls.key
  additionalVolumes:
    - {name: frontend-tls, secret: {secretName: temporal-frontend-tls}}
    - {name: worker-tls, secret: {secretName: temporal-worker-tls}}
  additionalVolumeMounts:
    - {name: frontend-tls, mountPath: /etc/temporal/frontend-tls}
    - {name: worker-tls, mountPath: /etc/temporal/worker-tls}
admintools:
  enabled: false
web:
  additionalEnv:
    - {name: TEMPORAL_DISABLE_WRITE_ACTIONS, value: "true"}
    - {name: TEMPORAL_AUTH_ENABLED, value: "true"}
    - {name: TEMPORAL_AUTH_PROVIDER_URL, value: "https://sso.example.com"}
    - {name: TEMPORAL_AUTH_CLIENT_ID, value: temporal-web}
    - {name: TEMPORAL_AUTH_CLIENT_SECRET, valueFrom: {secretKeyRef: {name: temporal-web-oidc, key: client-secret}}}
    - {name: TEMPORAL_AUTH_CALLBACK_URL, value: "https://temporal.example.com/auth/sso/callback"}
    - {name: TEMPORAL_AUTH_SCOPES, value: "openid,profile"}
    - {name: TEMPORAL_TLS_CERT, value: /etc/temporal/client-tls/tls.crt}
    - {name: TEMPORAL_TLS_KEY, value: /etc/temporal/client-tls/tls.key}
    - {name: TEMPORAL_TLS_CA, value: /etc/temporal/client-tls/ca.crt}
    - {name: TEMPORAL_TLS_ENABLE_HOST_VERIFICATION, value: "true"}
  additionalVolumes: [{name: client-tls, secret: {secretName: temporal-web-client-tls}}]
  additionalVolumeMounts: [{name: client-tls, mountPath: /etc/temporal/client-tls}]
  ingress:
    enabled: true
`

func TestTemporalValuesThatExposeTemporalFail(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"values.yaml": lockedValues,
		// Published without sign-in and with writes: an overlay that
		// replaces the UI's environment (Helm replaces lists).
		"open-ui.yaml": `
web:
  additionalEnv:
    - {name: TEMPORAL_TLS_CERT, value: /etc/temporal/client-tls/tls.crt}
    - {name: TEMPORAL_TLS_KEY, value: /etc/temporal/client-tls/tls.key}
    - {name: TEMPORAL_TLS_CA, value: /etc/temporal/client-tls/ca.crt}
    - {name: TEMPORAL_TLS_ENABLE_HOST_VERIFICATION, value: "true"}
`,
		"plain-frontend.yaml": "server:\n  config:\n    tls: null\n",
		"open-frontend.yaml":  "server:\n  config:\n    tls:\n      frontend:\n        server:\n          requireClientAuth: false\n",
		"unpublished.yaml":    "web:\n  ingress:\n    enabled: false\n  additionalEnv:\n    - {name: TEMPORAL_DISABLE_WRITE_ACTIONS, value: \"true\"}\n    - {name: TEMPORAL_TLS_CERT, value: /etc/temporal/client-tls/tls.crt}\n    - {name: TEMPORAL_TLS_KEY, value: /etc/temporal/client-tls/tls.key}\n    - {name: TEMPORAL_TLS_CA, value: /etc/temporal/client-tls/ca.crt}\n    - {name: TEMPORAL_TLS_ENABLE_HOST_VERIFICATION, value: \"true\"}\n",
	})
	check := func(files ...string) []string {
		t.Helper()
		_, problems, err := checkTemporalValues(root, files)
		if err != nil {
			t.Fatal(err)
		}
		return problems
	}
	if p := check("values.yaml"); len(p) > 0 {
		t.Fatalf("locked-down values: %v", p)
	}
	p := check("values.yaml", "open-ui.yaml")
	assertProblem(t, p, "values.yaml + open-ui.yaml", "web (Temporal Web UI)", "published by web.ingress without sign-in", "TEMPORAL_AUTH_ENABLED=true")
	assertProblem(t, p, "values.yaml + open-ui.yaml", "web (Temporal Web UI)", "write actions are enabled", "TEMPORAL_DISABLE_WRITE_ACTIONS=true")
	assertProblem(t, p, "open-ui.yaml", "web (Temporal Web UI)", "TEMPORAL_AUTH_CLIENT_SECRET must come from a Secret")

	p = check("values.yaml", "plain-frontend.yaml")
	assertProblem(t, p, "values.yaml + plain-frontend.yaml", "server.config.tls.frontend (Temporal frontend)", "no TLS")
	p = check("values.yaml", "open-frontend.yaml")
	assertProblem(t, p, "open-frontend.yaml", "server.config.tls.frontend (Temporal frontend)", "requireClientAuth must be true")

	// Not published: no sign-in needed, but still read-only.
	if p := check("values.yaml", "unpublished.yaml"); len(p) > 0 {
		t.Errorf("unpublished read-only UI: %v", p)
	}
}

func TestRepositoryTemporalValuesAreLockedDown(t *testing.T) {
	for _, files := range [][]string{
		{"deploy/kubernetes/engines/temporal/values.yaml"},
		{"deploy/kubernetes/engines/temporal/values.yaml", "deploy/kubernetes/engines/temporal/values-dev.yaml"},
	} {
		summary, problems, err := checkTemporalValues("../..", files)
		if err != nil || len(problems) > 0 {
			t.Errorf("%v: %v %v", files, err, problems)
		}
		if !strings.Contains(summary, "frontend mutual TLS") || !strings.Contains(summary, "Web UI read-only") {
			t.Errorf("%v: summary %q", files, summary)
		}
	}
}

func TestMergeValuesLikeHelm(t *testing.T) {
	got := mergeValues(map[string]any{"a": map[string]any{"x": 1, "l": []any{1, 2}}, "b": 1, "c": 1},
		map[string]any{"a": map[string]any{"y": 2, "l": []any{3}}, "b": nil})
	a := got["a"].(map[string]any)
	if a["x"] != 1 || a["y"] != 2 || len(a["l"].([]any)) != 1 || got["c"] != 1 {
		t.Errorf("merge: %v", got)
	}
	if _, ok := got["b"]; ok {
		t.Errorf("null did not remove b: %v", got)
	}
}

func TestComposeThatExposesTemporalFails(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"deploy/compose/.env.example": "X=1\n",
		"deploy/compose/compose.yaml": `
name: t
services:
  temporal:
    image: temporalio/server:1.31.2
    networks: [temporal]
  temporal-ui:
    image: temporalio/ui:2.52.0
    environment:
      TEMPORAL_ADDRESS: temporal:7233
    ports: ["127.0.0.1:8233:8080"]
    networks: [temporal]
  bridge:
    image: madoguchi:dev
    environment:
      TEMPORAL_ADDRESS: temporal:7233
    networks: [temporal]
  holder-members:
    image: madoguchi:dev
    environment:
      TEMPORAL_ADDRESS: temporal:7233 # shared environment, but no path to Temporal
    networks: [bus, db-members]
  postgres:
    image: postgres:17
    networks: [db-members]
networks:
  temporal: {}
  bus: {}
  db-members: {}
`,
	})
	_, err := checkCompose(root, ComposeFile{File: "deploy/compose/compose.yaml", EnvFile: "deploy/compose/.env.example"})
	if err == nil {
		t.Fatal("compose with an open Temporal passed")
	}
	problems := strings.Split(err.Error(), "; ")
	if !strings.HasPrefix(err.Error(), "deploy/compose/compose.yaml: ") {
		t.Errorf("error does not name the file: %v", err)
	}
	assertProblem(t, problems, "service temporal-ui", "without sign-in", "TEMPORAL_AUTH_ENABLED must be true")
	assertProblem(t, problems, "service temporal-ui", "must be read-only", "TEMPORAL_DISABLE_WRITE_ACTIONS=true")
	assertProblem(t, problems, "service temporal", "the Temporal frontend has no TLS", "TEMPORAL_TLS_FRONTEND_CERT")
	assertProblem(t, problems, "service temporal", "TEMPORAL_TLS_REQUIRE_CLIENT_AUTH=true")
	assertProblem(t, problems, "service bridge", "without mutual TLS")
	assertNoProblem(t, problems, "service holder-members")
}

func TestRepositoryComposeIsLockedDown(t *testing.T) {
	summary, err := checkCompose("../..", ComposeFile{File: "deploy/compose/compose.yaml", EnvFile: "deploy/compose/.env.example"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(summary, "read-only UI(s) behind sign-in") {
		t.Errorf("summary %q", summary)
	}
}
