// Package layers holds the test that keeps the workspace's dependencies
// pointing inward: proto and law know nothing of ours, platform knows proto,
// services and workflows know proto, law and platform but never each other,
// and only cmd wires them together.
package layers

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// allowed lists, per module, the workspace modules its packages may import.
var allowed = map[string][]string{
	"proto":     {"proto"},
	"law":       {"law"},
	"platform":  {"platform", "proto"},
	"services":  {"services", "platform", "proto", "law"},
	"workflows": {"workflows", "platform", "proto", "law"},
	"cmd":       {"cmd", "services", "workflows", "platform", "proto", "law"},
}

func module(importPath string) (string, bool) {
	rest, ok := strings.CutPrefix(importPath, "madoguchi.dev/")
	if !ok {
		return "", false
	}
	m, _, _ := strings.Cut(rest, "/")
	return m, true
}

func TestDependenciesPointInward(t *testing.T) {
	cmd := exec.Command("go", "list", "-test", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "madoguchi.dev/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		from, ok := module(strings.Fields(strings.SplitN(fields[0], " [", 2)[0])[0])
		if !ok {
			continue
		}
		may, known := allowed[from]
		if !known {
			t.Errorf("%s: module %q has no layer; add it to allowed", fields[0], from)
			continue
		}
		seen++
		for _, imp := range fields[1:] {
			to, ours := module(imp)
			if !ours {
				continue
			}
			ok := false
			for _, m := range may {
				ok = ok || m == to
			}
			if !ok {
				t.Errorf("%s imports %s: %s may import only %v", fields[0], imp, from, may)
			}
		}
	}
	if seen < 50 {
		t.Fatalf("go list reported %d packages of ours; the listing is broken", seen)
	}
}
