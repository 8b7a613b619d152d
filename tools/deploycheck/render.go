package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Tools are the pinned binaries built from tools/deploycheck/go.mod.
type Tools struct{ Kustomize, Kubeconform string }

// kubeconform validates file against the schemas in dir, offline.
func (t Tools) kubeconform(dir, file string) (string, error) {
	cmd := exec.Command(t.Kubeconform,
		"-strict", "-summary", "-output", "text",
		"-schema-location", filepath.Join(dir, "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
		file)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := strings.TrimSpace(out.String())
	if err != nil {
		return text, err
	}
	// Only the summary line when everything is valid.
	lines := strings.Split(text, "\n")
	return strings.TrimPrefix(lines[len(lines)-1], "Summary: "), nil
}

// Object is one rendered Kubernetes object.
type Object map[string]any

func (o Object) Kind() string       { s, _ := o["kind"].(string); return s }
func (o Object) APIVersion() string { s, _ := o["apiVersion"].(string); return s }
func (o Object) Name() string       { return str(o, "metadata", "name") }
func (o Object) Namespace() string  { return str(o, "metadata", "namespace") }
func (o Object) ID() string         { return o.Kind() + "/" + o.Name() }

// Rendered is the output of one kustomization.
type Rendered struct {
	Kustomization
	File    string
	Objects []Object
}

func (r Rendered) kindSummary() string {
	counts := map[string]int{}
	for _, o := range r.Objects {
		counts[o.Kind()]++
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s×%d", k, counts[k])
	}
	return strings.Join(parts, " ")
}

func render(t Tools, root, work string, k Kustomization) (Rendered, error) {
	cmd := exec.Command(t.Kustomize, "build", filepath.Join(root, k.Path))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Rendered{}, fmt.Errorf("kustomize build %s: %w\n%s", k.Path, err, stderr.String())
	}
	file := filepath.Join(work, strings.ReplaceAll(k.Path, "/", "_")+".yaml")
	if err := os.WriteFile(file, stdout.Bytes(), 0o644); err != nil {
		return Rendered{}, err
	}
	objs, err := splitYAML(stdout.Bytes())
	if err != nil {
		return Rendered{}, fmt.Errorf("%s: %w", k.Path, err)
	}
	if len(objs) == 0 {
		return Rendered{}, fmt.Errorf("%s renders no objects", k.Path)
	}
	return Rendered{Kustomization: k, File: file, Objects: objs}, nil
}

// splitYAML decodes a multi-document YAML stream.
func splitYAML(b []byte) ([]Object, error) {
	var objs []Object
	var docs [][]byte
	var cur []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if t := bytes.TrimRight(line, " \r\n"); bytes.Equal(t, []byte("---")) || bytes.HasPrefix(t, []byte("--- ")) {
			docs, cur = append(docs, cur), nil
			continue
		}
		cur = append(cur, line...)
	}
	docs = append(docs, cur)
	for _, doc := range docs {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		var o Object
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.UseNumber()
		if err := dec.Decode(&o); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
	return objs, nil
}

// Path helpers over decoded JSON.

func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			if o, ok2 := v.(Object); ok2 {
				m = o
			} else {
				return nil
			}
		}
		v = m[p]
	}
	return v
}

func str(v any, path ...string) string { s, _ := get(v, path...).(string); return s }

func list(v any, path ...string) []any { l, _ := get(v, path...).([]any); return l }

func obj(v any, path ...string) map[string]any {
	switch m := get(v, path...).(type) {
	case map[string]any:
		return m
	case Object:
		return m
	}
	return nil
}

func strMap(v any, path ...string) map[string]string {
	out := map[string]string{}
	for k, val := range obj(v, path...) {
		if s, ok := val.(string); ok {
			out[k] = s
		}
	}
	return out
}
