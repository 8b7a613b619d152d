package purpose

import (
	"strings"
	"testing"
)

func ids(ps []Purpose) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.ID)
	}
	return strings.Join(s, ",")
}

func TestTheBuiltInRegisterIsThePolicysSection2(t *testing.T) {
	r, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Purposes) != 6 {
		t.Fatalf("%d purposes, want the policy's six", len(r.Purposes))
	}
	if !strings.Contains(r.Purposes[0].JA, "会員管理") || !strings.Contains(r.Purposes[0].Text("en"), "memberships") {
		t.Errorf("first purpose = %+v", r.Purposes[0])
	}
}

func TestAPersonIsToldThePurposesTheirHoldersServe(t *testing.T) {
	r, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(r.For([]string{"billing"})); got != "service,security" {
		t.Errorf("billing only: %s", got)
	}
	if got := ids(r.For([]string{"accesslog", "partners"})); got != "improvement_marketing,security,provision_to_partners,statistics" {
		t.Errorf("accesslog+partners: %s", got)
	}
	if got := ids(r.For(nil)); got != "security" {
		t.Errorf("no holders: %s (only purposes of every holder)", got)
	}
}

func TestABrokenRegisterIsRefusedWithTheFileAndPurpose(t *testing.T) {
	for doc, want := range map[string]string{
		"purposes: []": "no purposes",
		"purposes:\n- {id: Bad, ja: a, en: b, holders: [x]}":                                      `id "Bad"`,
		"purposes:\n- {id: a, ja: a, holders: [x]}":                                               `"a" needs both ja and en`,
		"purposes:\n- {id: a, ja: a, en: b}":                                                      `"a" names no holders`,
		"purposes:\n- {id: a, ja: a, en: b, holders: [x]}\n- {id: a, ja: a, en: b, holders: [x]}": "listed twice",
		"purposes:\n- {id: a, ja: a, en: b, holders: [x], colour: red}":                           "colour",
	} {
		_, err := Parse("ops/purposes.yaml", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "ops/purposes.yaml") {
			t.Errorf("%q: error %v, want one naming the file and %q", doc, err, want)
		}
	}
}
