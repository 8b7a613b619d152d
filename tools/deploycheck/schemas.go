package main

// Offline JSON schemas for kubeconform.
//
// kubeconform normally downloads schemas generated from the Kubernetes
// OpenAPI document (yannh/kubernetes-json-schema). Here they are generated
// locally, the same way, from two pinned sources:
//
//   - the OpenAPI v3 documents a Kubernetes release publishes in its source
//     tree (api/openapi-spec/v3), read from the k8s.io/kubernetes module at
//     the version and go.sum hash pinned in deploy/deploycheck.yaml and
//     fetched through the Go module proxy (checksum-verified by `go`);
//   - the CustomResourceDefinitions committed under
//     deploy/kubernetes/schemas/crds (NACK, CloudNativePG, Barman Cloud).
//
// Every object schema that lists properties gets additionalProperties:false
// (kubeconform's "-strict" schemas), unless it preserves unknown fields.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

type gvk struct{ Group, Version, Kind string }

func parseGVK(apiVersion, kind string) gvk {
	if g, v, ok := strings.Cut(apiVersion, "/"); ok {
		return gvk{g, v, kind}
	}
	return gvk{"", apiVersion, kind}
}

func (k gvk) apiVersion() string {
	if k.Group == "" {
		return k.Version
	}
	return k.Group + "/" + k.Version
}

// schemaFile is kubeconform's "{{ .ResourceKind }}{{ .KindSuffix }}.json".
func (k gvk) schemaFile() string {
	groupParts := strings.Split(k.apiVersion(), "/")
	versionParts := strings.Split(groupParts[0], ".")
	suffix := "-" + strings.ToLower(versionParts[0])
	if len(groupParts) > 1 {
		suffix += "-" + strings.ToLower(groupParts[1])
	}
	return strings.ToLower(k.Kind) + suffix + ".json"
}

// kubernetesOpenAPI downloads the pinned module (verified against go.sum's
// checksum database by `go`, and against the pinned hash here) and returns
// its OpenAPI v3 directory.
func kubernetesOpenAPI(cfg Config) (string, error) {
	p := cfg.KubernetesOpenAPI
	if p.Module == "" || p.Version == "" || p.Sum == "" {
		return "", fmt.Errorf("deploycheck.yaml: kubernetesOpenAPI needs module, version and sum")
	}
	tmp, err := os.MkdirTemp("", "deploycheck-mod-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "mod", "download", "-json", p.Module+"@"+p.Version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w\n%s%s", p.Module, p.Version, err, stdout.String(), stderr.String())
	}
	var info struct{ Dir, Sum, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		return "", err
	}
	if info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", p.Module, p.Version, info.Error)
	}
	if info.Sum != p.Sum {
		return "", fmt.Errorf("%s@%s has hash %s, deploycheck.yaml pins %s", p.Module, p.Version, info.Sum, p.Sum)
	}
	dir := filepath.Join(info.Dir, "api", "openapi-spec", "v3")
	if _, err := os.Stat(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// SchemaSet finds the schema of a kind.
type SchemaSet struct {
	specDir string
	specs   map[string]map[string]any // OpenAPI file → components.schemas
	crds    map[gvk]map[string]any    // openAPIV3Schema per served version
}

// NewSchemaSet reads every CRD under crdDir.
func NewSchemaSet(specDir, crdDir string) (*SchemaSet, error) {
	s := &SchemaSet{specDir: specDir, specs: map[string]map[string]any{}, crds: map[gvk]map[string]any{}}
	files, err := filepath.Glob(filepath.Join(crdDir, "*.y*ml"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		docs, err := splitYAML(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, d := range docs {
			if d.Kind() != "CustomResourceDefinition" {
				continue
			}
			group, kind := str(d, "spec", "group"), str(d, "spec", "names", "kind")
			for _, v := range list(d, "spec", "versions") {
				if served, _ := get(v, "served").(bool); !served {
					continue
				}
				schema := obj(v, "schema", "openAPIV3Schema")
				if schema == nil {
					return nil, fmt.Errorf("%s: %s %s has no schema", f, kind, str(v, "name"))
				}
				s.crds[gvk{group, str(v, "name"), kind}] = schema
			}
		}
	}
	return s, nil
}

// CRDCount is the number of custom kind versions known.
func (s *SchemaSet) CRDCount() int { return len(s.crds) }

// WriteFor writes a schema for every kind in rendered into dir. A kind with
// no schema gets no file: kubeconform then fails on it ("could not find schema").
func (s *SchemaSet) WriteFor(dir string, rendered []Rendered) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	written := map[string]gvk{}
	for _, r := range rendered {
		for _, o := range r.Objects {
			k := parseGVK(o.APIVersion(), o.Kind())
			file := k.schemaFile()
			if prev, ok := written[file]; ok {
				if prev != k {
					return 0, fmt.Errorf("%s and %s share kubeconform schema name %s", prev.apiVersion(), k.apiVersion(), file)
				}
				continue
			}
			schema, err := s.schema(k)
			if err != nil {
				return 0, err
			}
			if schema == nil {
				continue
			}
			b, err := json.Marshal(schema)
			if err != nil {
				return 0, err
			}
			if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
				return 0, err
			}
			written[file] = k
		}
	}
	return len(written), nil
}

func (s *SchemaSet) schema(k gvk) (map[string]any, error) {
	if crd, ok := s.crds[k]; ok {
		root := strictSchema(crd, nil)
		props, _ := root["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
			root["properties"] = props
		}
		// The API server accepts these on every custom resource.
		for name, def := range map[string]any{
			"apiVersion": map[string]any{"type": "string"},
			"kind":       map[string]any{"type": "string"},
			"metadata":   map[string]any{"type": "object"},
		} {
			if _, ok := props[name]; !ok {
				props[name] = def
			}
		}
		if _, ok := root["type"]; !ok {
			root["type"] = "object"
		}
		if _, ok := root["additionalProperties"]; !ok && root["x-kubernetes-preserve-unknown-fields"] != true {
			root["additionalProperties"] = false
		}
		return root, nil
	}
	file := "api__" + k.Version + "_openapi.json"
	if k.Group != "" {
		file = "apis__" + k.Group + "__" + k.Version + "_openapi.json"
	}
	defs, err := s.spec(file)
	if err != nil || defs == nil {
		return nil, err
	}
	var name string
	for n, d := range defs {
		for _, g := range list(d, "x-kubernetes-group-version-kind") {
			if str(g, "group") == k.Group && str(g, "version") == k.Version && str(g, "kind") == k.Kind {
				name = n
			}
		}
	}
	if name == "" {
		return nil, nil
	}
	// The kind's schema at the root, everything it references under
	// definitions (refs rewritten to #/definitions/…).
	need := map[string]bool{}
	var collect func(string)
	collect = func(n string) {
		if need[n] {
			return
		}
		need[n] = true
		for _, r := range refs(defs[n]) {
			collect(r)
		}
	}
	collect(name)
	definitions := map[string]any{}
	for n := range need {
		d, ok := defs[n].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: missing definition %s", file, n)
		}
		definitions[n] = strictSchema(d, rewriteRef)
	}
	root := strictSchema(defs[name].(map[string]any), rewriteRef)
	root["definitions"] = definitions
	return root, nil
}

func (s *SchemaSet) spec(file string) (map[string]any, error) {
	if d, ok := s.specs[file]; ok {
		return d, nil
	}
	b, err := os.ReadFile(filepath.Join(s.specDir, file))
	if os.IsNotExist(err) {
		s.specs[file] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc struct {
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	s.specs[file] = doc.Components.Schemas
	return doc.Components.Schemas, nil
}

const componentsPrefix = "#/components/schemas/"

func rewriteRef(r string) string {
	return "#/definitions/" + strings.TrimPrefix(r, componentsPrefix)
}

// refs lists the component names a schema references.
func refs(v any) []string {
	var out []string
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if k == "$ref" {
				if s, ok := val.(string); ok && strings.HasPrefix(s, componentsPrefix) {
					out = append(out, strings.TrimPrefix(s, componentsPrefix))
				}
				continue
			}
			out = append(out, refs(val)...)
		}
	case []any:
		for _, e := range t {
			out = append(out, refs(e)...)
		}
	}
	return out
}

// strictSchema copies a schema, dropping descriptions, rewriting $refs and
// closing every object that lists its properties.
func strictSchema(in map[string]any, ref func(string) string) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		switch k {
		case "description":
			continue
		case "$ref":
			if s, ok := v.(string); ok && ref != nil {
				v = ref(s)
			}
		case "properties", "patternProperties", "definitions":
			if m, ok := v.(map[string]any); ok {
				required := map[string]bool{}
				for _, r := range list(in, "required") {
					required[fmt.Sprint(r)] = true
				}
				props := make(map[string]any, len(m))
				for name, p := range m {
					ps, ok := p.(map[string]any)
					if !ok {
						props[name] = p
						continue
					}
					ps = strictSchema(ps, ref)
					if k == "properties" && !required[name] {
						ps = nullable(ps)
					}
					props[name] = ps
				}
				v = props
			}
		case "items", "additionalProperties", "not":
			if m, ok := v.(map[string]any); ok {
				v = strictSchema(m, ref)
			} else if l, ok := v.([]any); ok {
				v = strictList(l, ref)
			}
		case "allOf", "anyOf", "oneOf":
			if l, ok := v.([]any); ok {
				v = strictList(l, ref)
			}
		}
		out[k] = v
	}
	if _, hasProps := out["properties"]; hasProps {
		if _, set := out["additionalProperties"]; !set && out["x-kubernetes-preserve-unknown-fields"] != true {
			out["additionalProperties"] = false
		}
	}
	return out
}

// nullable lets an optional field be null, as the API server does (it
// treats null as unset), the same as kubeconform's published schemas.
func nullable(s map[string]any) map[string]any {
	switch t := s["type"].(type) {
	case string:
		s["type"] = []any{t, "null"}
		return s
	case []any:
		if !slices.Contains(t, any("null")) {
			s["type"] = append(t, "null")
		}
		return s
	}
	if len(s) == 0 {
		return s
	}
	return map[string]any{"anyOf": []any{map[string]any{"type": "null"}, s}}
}

func strictList(l []any, ref func(string) string) []any {
	out := make([]any, len(l))
	for i, e := range l {
		if m, ok := e.(map[string]any); ok {
			out[i] = strictSchema(m, ref)
		} else {
			out[i] = e
		}
	}
	return out
}
