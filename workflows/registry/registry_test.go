package registry

import (
	"strings"
	"testing"
	"time"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

func TestBuiltInRegistryNamesMembersForErasure(t *testing.T) {
	r, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	hs := r.Serving(dsrv1.Action_ACTION_ERASE)
	if len(hs) == 0 || hs[0].Name != "members" {
		t.Fatalf("erase served by %+v", hs)
	}
	if hs[0].SLA.Duration <= 0 || hs[0].MaxAttempts <= 0 {
		t.Errorf("defaults not applied: %+v", hs[0])
	}
}

func TestHolderSettingsOverrideDefaults(t *testing.T) {
	r, err := Parse([]byte("defaults: {sla: 5m, max_attempts: 2}\nholders:\n- {name: a, actions: [erase], sla: 1m}\n- {name: b, actions: [export]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Holders[0].SLA.Duration != time.Minute || r.Holders[0].MaxAttempts != 2 || r.Holders[1].SLA.Duration != 5*time.Minute {
		t.Errorf("settings = %+v", r.Holders)
	}
	if got := r.Serving(dsrv1.Action_ACTION_EXPORT); len(got) != 1 || got[0].Name != "b" {
		t.Errorf("export served by %+v", got)
	}
}

func TestInvalidRegistriesAreRefusedWithTheReason(t *testing.T) {
	for doc, want := range map[string]string{
		"holders: []": "no holders",
		"holders:\n- {name: A, actions: [erase]}":      "must match",
		"holders:\n- {name: a, actions: [shred]}":      "unknown action",
		"holders:\n- {name: a}\n- {name: a}":           "twice",
		"holders:\n- {name: a, colour: red}":           "unknown field",
		"defaults: {sla: soon}\nholders:\n- {name: a}": "duration",
	} {
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want %q", doc, err, want)
		}
	}
}

func TestEveryBuiltInHolderNamesItsDataToThePersonInBothLanguages(t *testing.T) {
	r, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range r.Holders {
		if h.Label.JA == "" || h.Label.EN == "" {
			t.Errorf("holder %s: label %+v lacks a language", h.Name, h.Label)
		}
		if got := r.LabelOf(h.Name, "en"); got != h.Label.EN {
			t.Errorf("LabelOf(%s, en) = %q", h.Name, got)
		}
	}
	if got := r.LabelOf("unlisted", "ja"); got != "unlisted" {
		t.Errorf("an unlisted holder is named %q, want its name", got)
	}
	if got := (Label{JA: "請求"}).For("en", "billing"); got != "請求" {
		t.Errorf("a missing English label falls back to %q, want the Japanese one", got)
	}
}
