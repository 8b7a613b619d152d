package main

import (
	"reflect"
	"testing"
)

func TestSchemaFileMatchesKubeconform(t *testing.T) {
	for apiVersion, want := range map[string]string{
		"v1":                        "service-v1.json",
		"apps/v1":                   "service-apps-v1.json",
		"networking.k8s.io/v1":      "service-networking-v1.json",
		"jetstream.nats.io/v1beta2": "service-jetstream-v1beta2.json",
	} {
		if got := parseGVK(apiVersion, "Service").schemaFile(); got != want {
			t.Errorf("%s: got %s, want %s", apiVersion, got, want)
		}
	}
}

func TestStrictSchema(t *testing.T) {
	in := map[string]any{
		"description": "dropped",
		"type":        "object",
		"required":    []any{"name"},
		"properties": map[string]any{
			"name":        map[string]any{"type": "string", "description": "dropped"},
			"description": map[string]any{"type": "string"}, // a property, kept
			"spec":        map[string]any{"allOf": []any{map[string]any{"$ref": "#/components/schemas/X"}}},
			"free":        map[string]any{"type": "object", "properties": map[string]any{}, "x-kubernetes-preserve-unknown-fields": true},
		},
	}
	got := strictSchema(in, rewriteRef)
	want := map[string]any{
		"type":                 "object",
		"required":             []any{"name"},
		"additionalProperties": false,
		"properties": map[string]any{
			"name":        map[string]any{"type": "string"},
			"description": map[string]any{"type": []any{"string", "null"}},
			"spec": map[string]any{"anyOf": []any{
				map[string]any{"type": "null"},
				map[string]any{"allOf": []any{map[string]any{"$ref": "#/definitions/X"}}},
			}},
			"free": map[string]any{"type": []any{"object", "null"}, "properties": map[string]any{}, "x-kubernetes-preserve-unknown-fields": true},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("strictSchema:\n got %#v\nwant %#v", got, want)
	}
}

func TestSelects(t *testing.T) {
	labels := map[string]string{"app.kubernetes.io/component": "holder", "madoguchi.dev/holder": "members"}
	for _, tc := range []struct {
		sel  map[string]any
		want bool
	}{
		{nil, false},
		{map[string]any{}, true},
		{map[string]any{"matchLabels": map[string]any{"madoguchi.dev/holder": "members"}}, true},
		{map[string]any{"matchLabels": map[string]any{"madoguchi.dev/holder": "billing"}}, false},
		{map[string]any{"matchExpressions": []any{map[string]any{"key": "app.kubernetes.io/component", "operator": "In", "values": []any{"holder", "intake"}}}}, true},
		{map[string]any{"matchExpressions": []any{map[string]any{"key": "x", "operator": "Exists"}}}, false},
	} {
		if got := selects(tc.sel, labels); got != tc.want {
			t.Errorf("selects(%v) = %v, want %v", tc.sel, got, tc.want)
		}
	}
}

func TestSplitYAML(t *testing.T) {
	objs, err := splitYAML([]byte("a: 1\n---\nb: |\n  ---not a separator\n--- \n\n---\nc: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 || str(objs[1], "b") != "---not a separator\n" {
		t.Fatalf("got %v", objs)
	}
}
