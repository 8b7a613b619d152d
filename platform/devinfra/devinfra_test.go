package devinfra

import "testing"

func TestVersionAtLeastComparesNumerically(t *testing.T) {
	for _, c := range []struct {
		v    string
		want bool
	}{{"2.9.10", false}, {"2.10.0", true}, {"2.15.2", true}, {"3.0.0", true}, {"2.10.0-beta.1", true}, {"1.99.99", false}} {
		if got := versionAtLeast(c.v, MinServerVersion); got != c.want {
			t.Errorf("versionAtLeast(%q) = %v, want %v", c.v, got, c.want)
		}
	}
}
