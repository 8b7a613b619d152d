package devinfra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// Temporal is a reachable Temporal frontend, with its Web UI when started here.
type Temporal struct {
	HostPort  string
	Namespace string
	UIURL     string
	Started   bool
	cmd       *exec.Cmd
	done      chan struct{}
}

// TemporalOptions configure a dev server started by StartTemporal.
type TemporalOptions struct {
	// Binary is the Temporal CLI built from tools/temporal (bin/temporal).
	Binary string
	// Port and UIPort: 0 picks free ports.
	Port, UIPort int
	// DBFile keeps state between runs; empty means in memory.
	DBFile string
	// SearchAttributes to register at start, name -> type.
	SearchAttributes map[string]enums.IndexedValueType
	// SearchAttributeCache makes the server cache search attributes as a
	// production server does (refreshed every 60 s). The dev server's default
	// re-reads them from its database on every use so that new ones work at
	// once; that read then comes with every upsert, start and visibility
	// query, which a benchmark against a bare workflow should not count.
	// Use it with SearchAttributes, so that they exist from the start.
	SearchAttributeCache bool
	// LogFile receives the server's output; empty discards it.
	LogFile string
	// ExtraArgs are appended to `temporal server start-dev` (e.g.
	// --ui-codec-endpoint for the codec server).
	ExtraArgs []string
}

// cliSearchAttributeTypes names the types as `temporal server start-dev`
// expects them.
var cliSearchAttributeTypes = map[enums.IndexedValueType]string{
	enums.INDEXED_VALUE_TYPE_TEXT: "Text", enums.INDEXED_VALUE_TYPE_KEYWORD: "Keyword", enums.INDEXED_VALUE_TYPE_INT: "Int",
	enums.INDEXED_VALUE_TYPE_DOUBLE: "Double", enums.INDEXED_VALUE_TYPE_BOOL: "Bool", enums.INDEXED_VALUE_TYPE_DATETIME: "Datetime",
	enums.INDEXED_VALUE_TYPE_KEYWORD_LIST: "KeywordList",
}

// StartTemporal returns the frontend named by TEMPORAL_ADDRESS (env), or
// starts `temporal server start-dev` from opts.Binary.
func StartTemporal(ctx context.Context, opts TemporalOptions) (*Temporal, error) {
	ns := os.Getenv("TEMPORAL_NAMESPACE")
	if ns == "" {
		ns = "default"
	}
	if hp := os.Getenv("TEMPORAL_ADDRESS"); hp != "" {
		if err := checkTemporal(ctx, hp, ns); err != nil {
			return nil, fmt.Errorf("devinfra: TEMPORAL_ADDRESS is set but unreachable: %w", err)
		}
		return &Temporal{HostPort: hp, Namespace: ns}, nil
	}
	if _, err := os.Stat(opts.Binary); err != nil {
		return nil, fmt.Errorf("devinfra: Temporal CLI not found at %s (run `make tools`): %w", opts.Binary, err)
	}
	var err error
	if opts.Port == 0 {
		if opts.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if opts.UIPort == 0 {
		if opts.UIPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	args := []string{"server", "start-dev", "--ip", "127.0.0.1",
		"--port", strconv.Itoa(opts.Port), "--ui-port", strconv.Itoa(opts.UIPort),
		"--namespace", ns, "--log-level", "warn", "--log-format", "json"}
	if opts.DBFile != "" {
		if err := os.MkdirAll(filepath.Dir(opts.DBFile), 0o755); err != nil {
			return nil, err
		}
		args = append(args, "--db-filename", opts.DBFile)
	}
	for name, typ := range opts.SearchAttributes {
		cli, ok := cliSearchAttributeTypes[typ]
		if !ok {
			return nil, fmt.Errorf("search attribute %s: type %v has no dev server name", name, typ)
		}
		args = append(args, "--search-attribute", name+"="+cli)
	}
	if opts.SearchAttributeCache {
		args = append(args, "--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=false")
	}
	args = append(args, opts.ExtraArgs...)
	cmd := exec.Command(opts.Binary, args...)
	// Own process group: Ctrl-C on make dev reaches us, and we stop it cleanly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if opts.LogFile != "" {
		f, err := os.Create(opts.LogFile)
		if err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("devinfra: start temporal: %w", err)
	}
	t := &Temporal{
		HostPort: "127.0.0.1:" + strconv.Itoa(opts.Port), Namespace: ns,
		UIURL: "http://127.0.0.1:" + strconv.Itoa(opts.UIPort), Started: true,
		cmd: cmd, done: make(chan struct{}),
	}
	go func() { _ = cmd.Wait(); close(t.done) }()
	err = waitFor(ctx, 90*time.Second, "temporal", func() error {
		select {
		case <-t.done:
			return errors.New("temporal dev server exited (see its log)")
		default:
		}
		return checkTemporal(ctx, t.HostPort, ns)
	})
	if err != nil {
		t.Stop()
		return nil, err
	}
	return t, nil
}

func checkTemporal(ctx context.Context, hostPort, ns string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: hostPort, Namespace: ns, Logger: quietLogger{}})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

// Stop ends a dev server this process started (SIGTERM, then SIGKILL).
func (t *Temporal) Stop() {
	if t.cmd == nil || t.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		<-t.done
	}
}

type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
