package devinfra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a reachable PostgreSQL server.
type Postgres struct {
	// AdminURL connects as a superuser to the "postgres" database.
	AdminURL string
	// Started is true when this process started the server (and Stop stops it).
	Started bool
	dataDir string
	pgCtl   string
	asUser  string
	// startOpts and logFile start the cluster again (Restart).
	startOpts, logFile string
}

// StartPostgres returns, in order of preference: the server named by
// DATABASE_URL (env), one answering on 127.0.0.1:5432 with trust auth, or a
// private cluster initialised under dir (kept between runs when dir is
// persistent). PostgreSQL refuses to run as root, so as root the cluster is
// run as the "postgres" (or "nobody") user via runuser.
func StartPostgres(ctx context.Context, dir string) (*Postgres, error) {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		if err := pingPG(ctx, u); err != nil {
			return nil, fmt.Errorf("devinfra: DATABASE_URL is set but unreachable: %w", err)
		}
		return &Postgres{AdminURL: u}, nil
	}
	local := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	if reachable("127.0.0.1:5432") && pingPG(ctx, local) == nil {
		return &Postgres{AdminURL: local}, nil
	}
	return startPrivatePG(ctx, dir)
}

// StartPrivatePostgres always initialises (or reuses) a private cluster under
// dir, ignoring DATABASE_URL and any server on 127.0.0.1:5432: fault-injection
// tests need a server they may restart.
func StartPrivatePostgres(ctx context.Context, dir string) (*Postgres, error) {
	return startPrivatePG(ctx, dir)
}

// Restart stops a private cluster abruptly (pg_ctl stop -m immediate: every
// server process ends at once and the next start runs crash recovery, as
// after a kill of the server) and starts it again on the same port and data
// directory. Clients see their connections drop and must reconnect.
func (p *Postgres) Restart(ctx context.Context) error {
	if !p.Started {
		return errors.New("devinfra: only a private cluster started by this process can be restarted")
	}
	pgCtl := func(args ...string) error {
		var cmd *exec.Cmd
		if p.asUser != "" {
			cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", p.asUser, "--", p.pgCtl}, args...)...)
		} else {
			cmd = exec.CommandContext(ctx, p.pgCtl, args...)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("devinfra: pg_ctl %s: %w: %s", args[len(args)-1], err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := pgCtl("-D", p.dataDir, "-m", "immediate", "-w", "stop"); err != nil {
		return err
	}
	if err := pgCtl("-D", p.dataDir, "-l", p.logFile, "-o", p.startOpts, "-w", "start"); err != nil {
		return err
	}
	return waitFor(ctx, 30*time.Second, "postgres", func() error { return pingPG(ctx, p.AdminURL) })
}

func pingPG(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

// pgBinDir finds initdb/pg_ctl: PATH first, then Debian's versioned dirs.
func pgBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return dirs[i] > dirs[j] })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("devinfra: PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql or set DATABASE_URL")
}

func startPrivatePG(ctx context.Context, dir string) (*Postgres, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	runAs := ""
	if os.Geteuid() == 0 {
		runAs = "postgres"
		if _, err := user.Lookup(runAs); err != nil {
			runAs = "nobody"
		}
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("devinfra: pg dir: %w", err)
	}
	if runAs != "" {
		if err := chownTo(dir, runAs); err != nil {
			return nil, err
		}
	}
	run := func(name string, args ...string) error {
		cmdPath := filepath.Join(bin, name)
		var cmd *exec.Cmd
		if runAs != "" {
			cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", runAs, "--", cmdPath}, args...)...)
		} else {
			cmd = exec.CommandContext(ctx, cmdPath, args...)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("devinfra: %s: %w: %s", name, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		if err := run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"); err != nil {
			return nil, err
		}
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", port, dir)
	if err := run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "postgres.log"), "-o", opts, "-w", "start"); err != nil {
		return nil, err
	}
	pg := &Postgres{
		AdminURL: "postgres://postgres@127.0.0.1:" + strconv.Itoa(port) + "/postgres?sslmode=disable",
		Started:  true, dataDir: data, pgCtl: filepath.Join(bin, "pg_ctl"), asUser: runAs,
		startOpts: opts, logFile: filepath.Join(dir, "postgres.log"),
	}
	if err := waitFor(ctx, 30*time.Second, "postgres", func() error { return pingPG(ctx, pg.AdminURL) }); err != nil {
		pg.Stop()
		return nil, err
	}
	return pg, nil
}

func chownTo(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("devinfra: user %s: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// Stop stops a cluster this process started; otherwise it does nothing.
func (p *Postgres) Stop() {
	if !p.Started {
		return
	}
	args := []string{"-D", p.dataDir, "-m", "fast", "-w", "stop"}
	var cmd *exec.Cmd
	if p.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", p.asUser, "--", p.pgCtl}, args...)...)
	} else {
		cmd = exec.Command(p.pgCtl, args...)
	}
	_ = cmd.Run()
}
