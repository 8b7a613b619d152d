package chaos

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"madoguchi.dev/platform/devinfra"
)

func TestScratchPrivatePGUnder0700(t *testing.T) {
	dir, _ := os.MkdirTemp("", "scratch-")
	defer os.RemoveAll(dir)
	pg, err := devinfra.StartPrivatePostgres(context.Background(), filepath.Join(dir, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	pg.Stop()
}
