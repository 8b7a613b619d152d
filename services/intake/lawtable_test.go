package intake_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"madoguchi.dev/law/fee"
	"madoguchi.dev/law/kind"
)

var choiceRE = regexp.MustCompile(`(?s)<input type="radio" name="kind" value="([a-z_]+)".*?<span class="lbl">([^<]*)</span><span class="tag (fee|free)">.*?<span class="explain"[^>]*>([^<]*)</span>`)

// The form offers the kinds of law/kind, in its order, with its labels and
// summaries, and marks as fee-bearing exactly the kinds law/fee may charge
// for: the pages keep no table of their own to drift from the notices'.
func TestTheFormReadsTheLawsTableOfKinds(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	for _, locale := range []string{"ja", "en"} {
		path := map[string]string{"ja": "/", "en": "/en"}[locale]
		r := s.do(t, http.MethodGet, path, "", "", nil)
		got := choiceRE.FindAllStringSubmatch(r.body, -1)
		want := kind.All()
		if len(got) != len(want) {
			t.Fatalf("%s: the form offers %d kinds, law/kind has %d", locale, len(got), len(want))
		}
		for i, k := range want {
			c := got[i]
			if c[1] != string(k) || html.UnescapeString(c[2]) != k.Label(locale) ||
				html.UnescapeString(c[4]) != k.Summary(locale) || (c[3] == "fee") != fee.MayCharge(k) {
				t.Errorf("%s: choice %d = %q %q fee=%v %q; law says %q %q fee=%v %q", locale, i, c[1], c[2], c[3] == "fee", c[4],
					k, k.Label(locale), fee.MayCharge(k), k.Summary(locale))
			}
		}
	}
}

// The status page names the request's kind as the form did.
func TestTheStatusPageNamesTheKindFromTheLawsTable(t *testing.T) {
	t.Parallel()
	fake := newFake()
	s := newSiteWith(t, siteOptions{requests: fake})
	receipt, token := s.submitted(t, exampleJSON)
	fake.set(receipt, verifying(5, 3))
	for _, locale := range []string{"ja", "en"} {
		r := s.do(t, http.MethodGet, "/status/"+token+"?lang="+locale, "", "", nil)
		if label := kind.Deletion.Label(locale); !strings.Contains(r.body, label) {
			t.Errorf("%s status page lacks the kind's label %q", locale, label)
		}
	}
}
