// Command deploycheck validates Madoguchi's deployment files under deploy/
// without a cluster, a Docker engine or network access beyond the Go module
// proxy (`make deploy-check`):
//
//   - every kustomization listed in deploy/deploycheck.yaml renders with the
//     pinned kustomize, and the output passes kubeconform (strict) against
//     JSON schemas generated here from the Kubernetes OpenAPI documents of the
//     pinned k8s.io/kubernetes module and from the CRDs committed under
//     deploy/kubernetes/schemas/crds;
//   - the rendered objects follow the deployment rules of the brief (probes,
//     resources, PodDisruptionBudgets, autoscalers, secrets referenced and not
//     inlined, holders confined to NATS and their own database, …);
//   - the compose file loads, interpolates and validates with compose-go (the
//     library behind `docker compose config`), and the files it mounts exist;
//   - the Dockerfile parses with BuildKit's parser and passes its lint rules;
//   - the Helm values files for the official charts are well-formed YAML,
//     and the Temporal chart's, merged as Helm merges them, lock the
//     frontend (mutual TLS) and the Web UI (read-only, sign-in when
//     published) down.
//
// It prints what it validated and exits non-zero on the first failing step.
package main

import (
	"debug/buildinfo"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Config is deploy/deploycheck.yaml.
type Config struct {
	// KubernetesOpenAPI pins the module whose api/openapi-spec/v3 documents
	// give the schemas of the built-in kinds.
	KubernetesOpenAPI struct {
		Module  string `json:"module"`
		Version string `json:"version"`
		Sum     string `json:"sum"`
	} `json:"kubernetesOpenAPI"`
	// CRDs is a directory of CustomResourceDefinition files.
	CRDs           string          `json:"crds"`
	Kustomizations []Kustomization `json:"kustomizations"`
	Compose        []ComposeFile   `json:"compose"`
	Dockerfiles    []string        `json:"dockerfiles"`
	HelmValues     []string        `json:"helmValues"`
	// TemporalValues are the stacks of values files given to the official
	// Temporal chart (`helm -f a -f b`), each checked as Helm merges it:
	// frontend mutual TLS, the Web UI read-only and, when published,
	// behind OpenID Connect sign-in (temporal.go).
	TemporalValues [][]string `json:"temporalValues"`
}

// Kustomization is one directory to render and what its output must contain.
type Kustomization struct {
	Path    string `json:"path"`
	Require struct {
		// Deployments that must exist (and pass the workload rules).
		Deployments []string `json:"deployments"`
		// Autoscaled deployments need a HorizontalPodAutoscaler.
		Autoscaled []string `json:"autoscaled"`
		Jobs       []string `json:"jobs"`
		// Kinds that must appear at least once (e.g. Stream).
		Kinds []string `json:"kinds"`
		// TemporalFrontend: a NetworkPolicy must select the Temporal
		// frontend pods and admit its port only from selected pods.
		TemporalFrontend bool `json:"temporalFrontend"`
		// DatabaseTLS "verify-full": every container given a database URL
		// must verify the server (PGSSLMODE=verify-full, PGSSLROOTCERT a
		// CA file mounted from a Secret).
		DatabaseTLS string `json:"databaseTLS"`
	} `json:"require"`
}

// ComposeFile is a compose file and the env file used to interpolate it.
type ComposeFile struct {
	File    string `json:"file"`
	EnvFile string `json:"envFile"`
	// Services that must exist.
	Services []string `json:"services"`
}

func main() {
	root := flag.String("root", ".", "repository root")
	config := flag.String("config", "deploy/deploycheck.yaml", "configuration, relative to -root")
	bin := flag.String("bin", "", "directory with the kustomize and kubeconform binaries (default: this binary's directory)")
	flag.Parse()
	if err := run(*root, *config, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "deploy-check: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("deploy-check: OK")
}

func run(root, configPath, bin string) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		bin = filepath.Dir(exe)
	}
	raw, err := os.ReadFile(filepath.Join(root, configPath))
	if err != nil {
		return err
	}
	var cfg Config
	if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
		return fmt.Errorf("%s: %w", configPath, err)
	}
	tools := Tools{Kustomize: filepath.Join(bin, "kustomize"), Kubeconform: filepath.Join(bin, "kubeconform")}

	work, err := os.MkdirTemp("", "deploycheck-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// 1. Render every kustomization.
	fmt.Printf("== Kubernetes manifests (kustomize %s)\n", moduleVersion(tools.Kustomize))
	var rendered []Rendered
	for _, k := range cfg.Kustomizations {
		r, err := render(tools, root, work, k)
		if err != nil {
			return err
		}
		fmt.Printf("rendered  %-46s %3d objects: %s\n", k.Path, len(r.Objects), r.kindSummary())
		rendered = append(rendered, r)
	}

	// 2. Schemas: Kubernetes OpenAPI (pinned module) + committed CRDs.
	specDir, err := kubernetesOpenAPI(cfg)
	if err != nil {
		return err
	}
	schemas, err := NewSchemaSet(specDir, filepath.Join(root, cfg.CRDs))
	if err != nil {
		return err
	}
	schemaDir := filepath.Join(work, "schemas")
	n, err := schemas.WriteFor(schemaDir, rendered)
	if err != nil {
		return err
	}
	fmt.Printf("schemas   %d JSON schemas (strict) from %s@%s OpenAPI v3 and %d CRDs in %s\n",
		n, cfg.KubernetesOpenAPI.Module, cfg.KubernetesOpenAPI.Version, schemas.CRDCount(), cfg.CRDs)

	// 3. kubeconform on every rendering.
	fmt.Printf("== Schema validation (kubeconform %s, -strict, offline)\n", moduleVersion(tools.Kubeconform))
	var invalid []string
	for _, r := range rendered {
		out, err := tools.kubeconform(schemaDir, r.File)
		if err != nil {
			fmt.Printf("INVALID   %-46s\n%s\n", r.Path, strings.ReplaceAll(out, r.File, r.Path))
			invalid = append(invalid, r.Path)
			continue
		}
		fmt.Printf("validated %-46s %s\n", r.Path, out)
	}
	if len(invalid) > 0 {
		return fmt.Errorf("schema validation failed for %s", strings.Join(invalid, ", "))
	}

	// 4. Deployment rules.
	fmt.Println("== Deployment rules")
	var violating []string
	for _, r := range rendered {
		problems, checked := CheckPolicy(r)
		if len(problems) > 0 {
			fmt.Printf("VIOLATED  %s\n  - %s\n", r.Path, strings.Join(problems, "\n  - "))
			violating = append(violating, r.Path)
			continue
		}
		fmt.Printf("checked   %-46s %s\n", r.Path, checked)
	}
	if len(violating) > 0 {
		return fmt.Errorf("deployment rules violated in %s", strings.Join(violating, ", "))
	}

	// 5. Compose.
	fmt.Println("== Compose")
	for _, c := range cfg.Compose {
		summary, err := checkCompose(root, c)
		if err != nil {
			return err // names c.File
		}
		fmt.Printf("validated %-46s %s\n", c.File, summary)
	}

	// 6. Dockerfiles.
	fmt.Println("== Dockerfiles")
	for _, f := range cfg.Dockerfiles {
		summary, err := checkDockerfile(filepath.Join(root, f))
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		fmt.Printf("validated %-46s %s\n", f, summary)
	}

	// 7. Helm values for the official charts.
	fmt.Println("== Helm values (official charts, installed by the operator)")
	for _, f := range cfg.HelmValues {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return err
		}
		var v map[string]any
		if err := yaml.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if len(v) == 0 {
			return fmt.Errorf("%s: empty", f)
		}
		fmt.Printf("parsed    %-46s %d top-level keys\n", f, len(v))
	}
	var unsafe []string
	for _, files := range cfg.TemporalValues {
		summary, problems, err := checkTemporalValues(root, files)
		if err != nil {
			return err
		}
		name := strings.Join(files, " + ")
		if len(problems) > 0 {
			fmt.Printf("VIOLATED  %s\n  - %s\n", name, strings.Join(problems, "\n  - "))
			unsafe = append(unsafe, name)
			continue
		}
		fmt.Printf("checked   %s: %s\n", name, summary)
	}
	if len(unsafe) > 0 {
		return fmt.Errorf("Temporal chart values violate the rules in %s", strings.Join(unsafe, "; "))
	}
	return nil
}

// moduleVersion is the module version a Go binary was built from.
func moduleVersion(bin string) string {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "(unknown version)"
	}
	return info.Main.Version
}
