// Package purpose is the register of purposes of use: what the operator
// announces it uses personal data for (APPI Art. 21) and answers a notice
// of purposes of use with (Art. 32(2)), per data holder.
package purpose

import (
	_ "embed"
	"fmt"
	"os"
	"regexp"
	"slices"

	"sigs.k8s.io/yaml"
)

//go:embed purposes.yaml
var builtIn []byte

// Purpose is one announced purpose of use.
type Purpose struct {
	ID string `json:"id"`
	JA string `json:"ja"`
	EN string `json:"en"`
	// Holders are the registry names of the holders whose data serves the
	// purpose; "*" is every holder.
	Holders []string `json:"holders"`
}

// Text is the purpose in locale ("en", else Japanese).
func (p Purpose) Text(locale string) string {
	if locale == "en" {
		return p.EN
	}
	return p.JA
}

// Register is the operator's list of purposes, in the order it announces them.
type Register struct {
	Purposes []Purpose `json:"purposes"`
}

var idRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

// Parse reads and checks a register; name labels errors (a file name).
func Parse(name string, doc []byte) (*Register, error) {
	var r Register
	if err := yaml.UnmarshalStrict(doc, &r); err != nil {
		return nil, fmt.Errorf("purposes %s: %w", name, err)
	}
	if len(r.Purposes) == 0 {
		return nil, fmt.Errorf("purposes %s: no purposes listed", name)
	}
	seen := map[string]bool{}
	for i, p := range r.Purposes {
		switch {
		case !idRE.MatchString(p.ID):
			return nil, fmt.Errorf("purposes %s: purpose %d: id %q must match %s", name, i+1, p.ID, idRE)
		case seen[p.ID]:
			return nil, fmt.Errorf("purposes %s: purpose %q listed twice", name, p.ID)
		case p.JA == "" || p.EN == "":
			return nil, fmt.Errorf("purposes %s: purpose %q needs both ja and en texts", name, p.ID)
		case len(p.Holders) == 0:
			return nil, fmt.Errorf("purposes %s: purpose %q names no holders (use \"*\" for every holder)", name, p.ID)
		}
		seen[p.ID] = true
	}
	return &r, nil
}

// Load reads the register at path, or the built-in one (the privacy
// policy's §2) when path is "".
func Load(path string) (*Register, error) {
	if path == "" {
		return Parse("(built in)", builtIn)
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("purposes: %w", err)
	}
	return Parse(path, doc)
}

// For lists, in register order, the purposes that the named holders' data
// serves: the answer to a notice of purposes of use for a person whose
// records those holders hold.
func (r *Register) For(holders []string) []Purpose {
	var out []Purpose
	for _, p := range r.Purposes {
		if slices.Contains(p.Holders, "*") || slices.ContainsFunc(p.Holders, func(h string) bool { return slices.Contains(holders, h) }) {
			out = append(out, p)
		}
	}
	return out
}
