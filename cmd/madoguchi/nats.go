package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"madoguchi.dev/cmd/internal/component"
	"madoguchi.dev/platform/logging"
	"madoguchi.dev/platform/natsauth"
	"madoguchi.dev/proto/contract"
)

// natsSetup declares the streams as the NATS admin (component.SetupNATS).
func natsSetup(ctx context.Context) error {
	log := logging.New("nats-setup")
	cfg, err := component.LoadConfig()
	if err != nil {
		return err
	}
	if err := component.SetupNATS(ctx, cfg, nil); err != nil {
		return err
	}
	log.Info().Str("root", cfg.SubjectRoot).Int("replicas", cfg.StreamReplicas).Msg("streams and packages store declared")
	return nil
}

// natsKeygen prints a new seed and public key for each user named (every
// user of the production layout when none is), one variable a line: the
// seed goes to that component alone (as NATS_NKEY_SEED), the public key
// to the NATS servers.
func natsKeygen(users []string) error {
	if len(users) == 0 {
		users = component.NATSLayout(contract.Default).Users()
	}
	for _, u := range users {
		if _, ok := natsauth.Of(contract.Default, u); !ok {
			return fmt.Errorf("nats-keygen: no NATS user %q (users: %v)", u, component.NATSLayout(contract.Default).Users())
		}
		seed, pub, err := natsauth.NewSeed()
		if err != nil {
			return err
		}
		fmt.Println(natsauth.SeedVar(u) + "=" + seed)
		fmt.Println(natsauth.KeyVar(u) + "=" + pub)
	}
	return nil
}

// natsConfig prints the generated NATS server configurations of deploy/,
// or writes them under -write (the repository root to refresh them).
func natsConfig(args []string) error {
	fs := flag.NewFlagSet("nats-config", flag.ContinueOnError)
	write := fs.String("write", "", "write the files under this directory instead of printing them")
	var subscribers []string
	fs.Func("erasure-subscriber", "add erasure subscriber `NAME` (user and durable erasure-NAME); repeatable",
		func(s string) error { subscribers = append(subscribers, s); return nil })
	if err := fs.Parse(args); err != nil {
		return err
	}
	files, err := component.NATSConfigFiles(subscribers...)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if *write == "" {
			fmt.Printf("==> %s <==\n%s\n", p, files[p])
			continue
		}
		if err := os.WriteFile(filepath.Join(*write, p), []byte(files[p]), 0o644); err != nil {
			return fmt.Errorf("nats-config: %w", err)
		}
		fmt.Println("wrote", p)
	}
	return nil
}
