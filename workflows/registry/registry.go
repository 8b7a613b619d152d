// Package registry says which data holders exist and which actions each
// serves. It is configuration (holders.yaml, or a file an operator names),
// not code spread across services.
package registry

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"sigs.k8s.io/yaml"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

//go:embed holders.yaml
var defaultYAML []byte

// Holder is one data-holding service.
type Holder struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Label names the holder's data to the person, in the notices' words.
	Label   Label    `json:"label"`
	Actions []string `json:"actions"`
	// SLA and MaxAttempts override the defaults for this holder.
	SLA         Duration `json:"sla"`
	MaxAttempts int      `json:"max_attempts"`
	// MemberRegistry marks the holder whose records are the member
	// register: only its locate may confirm a member number by the proven
	// contact (holderkit's binding rule).
	MemberRegistry bool `json:"member_registry"`
}

// Label is a holder's name for the person, per notice locale.
type Label struct {
	JA string `json:"ja"`
	EN string `json:"en"`
}

// For is the label in locale ("ja" or "en"); the other language, then
// fallback, when a locale's label is missing.
func (l Label) For(locale, fallback string) string {
	first, second := l.JA, l.EN
	if locale == "en" {
		first, second = l.EN, l.JA
	}
	switch {
	case first != "":
		return first
	case second != "":
		return second
	}
	return fallback
}

// LabelOf is the named holder's label in locale, or its name when the
// registry does not list it.
func (r *Registry) LabelOf(name, locale string) string {
	for _, h := range r.Holders {
		if h.Name == name {
			return h.Label.For(locale, name)
		}
	}
	return name
}

// Registry is the parsed configuration.
type Registry struct {
	Defaults struct {
		SLA         Duration `json:"sla"`
		MaxAttempts int      `json:"max_attempts"`
	} `json:"defaults"`
	Holders []Holder `json:"holders"`
}

// Duration reads "10m" style values.
type Duration struct{ time.Duration }

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := yaml.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("registry: duration %q: %w", s, err)
	}
	d.Duration = v
	return nil
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// Parse reads and validates a registry document.
func Parse(doc []byte) (*Registry, error) {
	var r Registry
	if err := yaml.UnmarshalStrict(doc, &r); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	if r.Defaults.SLA.Duration <= 0 {
		r.Defaults.SLA.Duration = 10 * time.Minute
	}
	if r.Defaults.MaxAttempts <= 0 {
		r.Defaults.MaxAttempts = 3
	}
	if len(r.Holders) == 0 {
		return nil, errors.New("registry: no holders")
	}
	seen := map[string]bool{}
	for i, h := range r.Holders {
		if !nameRE.MatchString(h.Name) {
			return nil, fmt.Errorf("registry: holder name %q must match %s", h.Name, nameRE)
		}
		if seen[h.Name] {
			return nil, fmt.Errorf("registry: holder %q listed twice", h.Name)
		}
		seen[h.Name] = true
		for _, a := range h.Actions {
			if _, ok := contract.ParseAction(a); !ok {
				return nil, fmt.Errorf("registry: holder %q: unknown action %q", h.Name, a)
			}
		}
		if h.SLA.Duration <= 0 {
			r.Holders[i].SLA = r.Defaults.SLA
		}
		if h.MaxAttempts <= 0 {
			r.Holders[i].MaxAttempts = r.Defaults.MaxAttempts
		}
	}
	return &r, nil
}

// Load reads the file at path, or the built-in registry when path is "".
func Load(path string) (*Registry, error) {
	if path == "" {
		return Parse(defaultYAML)
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return Parse(doc)
}

// Serving returns the holders that carry out action, in registry order.
func (r *Registry) Serving(action dsrv1.Action) []Holder {
	name := contract.ActionName(action)
	var out []Holder
	for _, h := range r.Holders {
		for _, a := range h.Actions {
			if a == name {
				out = append(out, h)
				break
			}
		}
	}
	return out
}

// Only returns a registry restricted to the named holders (tests, staged rollout).
func (r *Registry) Only(names ...string) *Registry {
	keep := map[string]bool{}
	for _, n := range names {
		keep[n] = true
	}
	out := *r
	out.Holders = nil
	for _, h := range r.Holders {
		if keep[h.Name] {
			out.Holders = append(out.Holders, h)
		}
	}
	return &out
}
