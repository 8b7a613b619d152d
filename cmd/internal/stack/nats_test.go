package stack

import (
	"os"
	"path/filepath"
	"testing"

	"madoguchi.dev/platform/natsauth"
)

// make dev keeps each component's NATS seed in Dir/nats.env (0600) and
// reads it back; a new user gets a new seed, a damaged one is replaced.
func TestNATSSeedsAreKeptInDirAcrossRuns(t *testing.T) {
	o := Options{Dir: t.TempDir(), PersistKeys: true}
	users := []string{natsauth.Admin, natsauth.Intake}
	first, err := natsSeeds(o, users)
	if err != nil {
		t.Fatal(err)
	}
	if first[natsauth.Admin] == first[natsauth.Intake] {
		t.Fatal("two users share a seed")
	}
	file := filepath.Join(o.Dir, "nats.env")
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("nats.env: %v, %v; want mode 0600", st, err)
	}
	b, _ := os.ReadFile(file)
	damaged := []byte(string(b) + natsauth.SeedVar(natsauth.Intake) + "=not-a-seed\n")
	if err := os.WriteFile(file, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := natsSeeds(o, append(users, natsauth.Worker))
	if err != nil {
		t.Fatal(err)
	}
	if again[natsauth.Admin] != first[natsauth.Admin] {
		t.Error("the admin's seed changed between runs")
	}
	if _, err := natsauth.PublicKey(again[natsauth.Intake]); err != nil {
		t.Errorf("a damaged seed was kept: %v", err)
	}
	if again[natsauth.Worker] == "" {
		t.Error("a new user got no seed")
	}
	// Without PersistKeys nothing is written.
	tmp := Options{Dir: t.TempDir()}
	if _, err := natsSeeds(tmp, users); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tmp.Dir, "nats.env")); !os.IsNotExist(err) {
		t.Errorf("nats.env written without PersistKeys: %v", err)
	}
}
