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
// file, and checks that the files it bind-mounts and builds from exist.
func checkCompose(root string, c ComposeFile) (string, error) {
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
					missing = append(missing, fmt.Sprintf("service %s mounts %s", s.Name, v.Source))
				}
			}
		}
		if s.Build != nil {
			df := s.Build.Dockerfile
			if !filepath.IsAbs(df) {
				df = filepath.Join(s.Build.Context, df)
			}
			if _, err := os.Stat(df); err != nil {
				missing = append(missing, fmt.Sprintf("service %s builds from %s", s.Name, df))
			}
		}
	}
	for _, name := range c.Services {
		if _, err := project.GetService(name); err != nil {
			missing = append(missing, "required service "+name)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("missing: %s", strings.Join(missing, "; "))
	}
	names := project.ServiceNames()
	slices.Sort(names)
	return fmt.Sprintf("project %q: %d services, %d networks, %d volumes (%s)",
		project.Name, len(names), len(project.Networks), len(project.Volumes), strings.Join(names, " ")), nil
}
