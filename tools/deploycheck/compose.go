package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// checkCompose loads a compose file the way `docker compose config` does
// (compose-go: interpolation, compose-spec JSON-schema validation,
// normalisation, consistency checks), with the variables of its example env
// file, and checks that the files it bind-mounts and builds from exist and
// that Temporal and its Web UI are locked down (composeTrust). Its error
// names c.File.
func checkCompose(root string, c ComposeFile) (string, error) {
	summary, err := loadAndCheckCompose(root, c)
	if err != nil {
		return "", fmt.Errorf("%s: %w", c.File, err)
	}
	return summary, nil
}

func loadAndCheckCompose(root string, c ComposeFile) (string, error) {
	file := filepath.Join(root, c.File)
	opts := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithEnvFiles(filepath.Join(root, c.EnvFile)),
		cli.WithDotEnv,
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	}
	po, err := cli.NewProjectOptions([]string{file}, opts...)
	if err != nil {
		return "", err
	}
	project, err := cli.ProjectFromOptions(context.Background(), po)
	if err != nil {
		return "", err
	}
	var missing []string
	for _, s := range project.Services {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					missing = append(missing, fmt.Sprintf("service %s mounts missing %s", s.Name, v.Source))
				}
			}
		}
		if s.Build != nil {
			df := s.Build.Dockerfile
			if !filepath.IsAbs(df) {
				df = filepath.Join(s.Build.Context, df)
			}
			if _, err := os.Stat(df); err != nil {
				missing = append(missing, fmt.Sprintf("service %s builds from missing %s", s.Name, df))
			}
		}
	}
	// Holders share a network only with NATS (bus) and with PostgreSQL, like
	// their NetworkPolicies: holder-<x> is on bus and db-<x>, and db-<x> holds
	// only holder-<x> and postgres.
	members := map[string][]string{}
	for _, s := range project.Services {
		for n := range s.Networks {
			members[n] = append(members[n], s.Name)
		}
	}
	holders := 0
	for _, s := range project.Services {
		h, ok := strings.CutPrefix(s.Name, "holder-")
		if !ok {
			continue
		}
		holders++
		var nets []string
		for n := range s.Networks {
			nets = append(nets, n)
		}
		slices.Sort(nets)
		if want := []string{"bus", "db-" + h}; !slices.Equal(nets, want) {
			missing = append(missing, fmt.Sprintf("service %s must be on networks %v only (is on %v)", s.Name, want, nets))
		}
		peers := members["db-"+h]
		slices.Sort(peers)
		if want := []string{"holder-" + h, "postgres"}; !slices.Equal(peers, want) {
			missing = append(missing, fmt.Sprintf("network db-%s must hold only %v (holds %v)", h, want, peers))
		}
	}
	for _, name := range c.Services {
		if _, err := project.GetService(name); err != nil {
			missing = append(missing, "required service "+name+" is missing")
		}
	}
	trust, locked := composeTrust(project)
	missing = append(missing, trust...)
	if len(missing) > 0 {
		return "", fmt.Errorf("%s", strings.Join(missing, "; "))
	}
	names := project.ServiceNames()
	slices.Sort(names)
	return fmt.Sprintf("project %q: %d services, %d networks, %d volumes; %d holders on bus + own db network only; %s (%s)",
		project.Name, len(names), len(project.Networks), len(project.Volumes), holders, locked, strings.Join(names, " ")), nil
}
