package main

// Deployment rules: what the schema cannot say but the brief requires of
// Madoguchi's workloads (objects labelled app.kubernetes.io/name=madoguchi).

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// sensitiveEnv names variables that must come from a Secret.
var sensitiveEnv = regexp.MustCompile(`^(.*_KEYS?|.*_DATABASE_URL|.*PASSWORD.*|.*SECRET.*|.*TOKEN.*)$`)

type workload struct {
	obj    Object
	labels map[string]string // pod template labels
	spec   map[string]any    // pod spec
}

// CheckPolicy returns the rule violations of one rendering, each naming the
// kustomization and the object, and a summary of what was checked.
func CheckPolicy(r Rendered) (problems []string, summary string) {
	bad := func(format string, args ...any) {
		problems = append(problems, r.Path+": "+fmt.Sprintf(format, args...))
	}
	byKind := map[string][]Object{}
	for _, o := range r.Objects {
		byKind[o.Kind()] = append(byKind[o.Kind()], o)
	}
	ours := func(o Object) bool { return str(o, "metadata", "labels", "app.kubernetes.io/name") == "madoguchi" }

	// Secrets are referenced, never rendered.
	for _, s := range byKind["Secret"] {
		if obj(s, "data") != nil || obj(s, "stringData") != nil {
			bad("%s: secret material inlined in the manifests; reference an existing Secret instead", s.ID())
		}
	}
	// ConfigMaps given to workloads hold no secrets.
	for _, c := range byKind["ConfigMap"] {
		for k, v := range strMap(c, "data") {
			switch {
			case pathEnv.MatchString(k) && !filePath.MatchString(v):
				bad("%s: %s must be the path of a file mounted from a Secret, not the material", c.ID(), k)
			case sensitiveEnv.MatchString(k) && !isFilePathEnv(k, v):
				bad("%s: %s belongs in a Secret, not a ConfigMap", c.ID(), k)
			}
		}
	}

	var workloads []workload
	for _, kind := range []string{"Deployment", "Job"} {
		for _, o := range byKind[kind] {
			if !ours(o) {
				continue
			}
			workloads = append(workloads, workload{o, strMap(o, "spec", "template", "metadata", "labels"), obj(o, "spec", "template", "spec")})
		}
	}
	hpaTargets := map[string]Object{}
	for _, h := range byKind["HorizontalPodAutoscaler"] {
		ref := obj(h, "spec", "scaleTargetRef")
		name := str(ref, "name")
		if str(ref, "kind") != "Deployment" || findObject(r.Objects, "Deployment", name) == nil {
			bad("%s: scaleTargetRef %s/%s is not a rendered Deployment", h.ID(), str(ref, "kind"), name)
		}
		hpaTargets[name] = h
	}

	for _, w := range workloads {
		id := w.obj.ID()
		if w.obj.Kind() == "Deployment" {
			sel := obj(w.obj, "spec", "selector")
			if !selects(sel, w.labels) {
				bad("%s: selector does not match its pod template labels", id)
			}
			if _, autoscaled := hpaTargets[w.obj.Name()]; autoscaled && get(w.obj, "spec", "replicas") != nil {
				bad("%s: has an HPA, so it must not set spec.replicas (each apply would reset the scale)", id)
			}
			if !anySelects(byKind["PodDisruptionBudget"], w, "spec", "selector") {
				bad("%s: no PodDisruptionBudget selects its pods", id)
			}
		}
		if t, _ := get(w.spec, "securityContext", "runAsNonRoot").(bool); !t {
			bad("%s: pod securityContext.runAsNonRoot must be true", id)
		}
		if str(w.spec, "securityContext", "seccompProfile", "type") == "" {
			bad("%s: pod securityContext.seccompProfile must be set", id)
		}
		policies := selectingPolicies(byKind["NetworkPolicy"], w)
		if !hasPolicyType(policies, "Egress") || !hasPolicyType(policies, "Ingress") {
			bad("%s: needs NetworkPolicies restricting both ingress and egress", id)
		}
		for _, c := range list(w.spec, "containers") {
			checkContainer(w, c, bad)
		}
		if w.labels["app.kubernetes.io/component"] == "holder" {
			checkHolderConfinement(w, policies, bad)
		}
	}
	for _, name := range r.Require.Deployments {
		if d := findObject(r.Objects, "Deployment", name); d == nil {
			bad("required Deployment %s is missing", name)
		}
	}
	for _, name := range r.Require.Autoscaled {
		if _, ok := hpaTargets[name]; !ok {
			bad("Deployment %s needs a HorizontalPodAutoscaler", name)
		}
	}
	for _, name := range r.Require.Jobs {
		if findObject(r.Objects, "Job", name) == nil {
			bad("required Job %s is missing", name)
		}
	}
	for _, kind := range r.Require.Kinds {
		if len(byKind[kind]) == 0 {
			bad("no %s rendered", kind)
		}
	}
	dbPolicies := checkDatabasePolicies(byKind, bad)
	trust := checkTrust(r, byKind, workloads, bad)
	natsUsers := checkNATSUsers(byKind, workloads, bad)

	var parts []string
	if n := len(workloads); n > 0 {
		holders := 0
		for _, w := range workloads {
			if w.labels["app.kubernetes.io/component"] == "holder" {
				holders++
			}
		}
		parts = append(parts, fmt.Sprintf("%d workloads (probes, resources, non-root, read-only, PDB, NetworkPolicy, secret refs)", n))
		if len(hpaTargets) > 0 {
			parts = append(parts, fmt.Sprintf("%d HPAs", len(hpaTargets)))
		}
		if holders > 0 {
			parts = append(parts, fmt.Sprintf("%d holders confined to DNS+NATS+own DB", holders))
		}
	}
	if dbPolicies > 0 {
		parts = append(parts, fmt.Sprintf("%d databases admitting only their owner", dbPolicies))
	}
	parts = append(parts, trust.parts()...)
	if natsUsers > 0 {
		parts = append(parts, fmt.Sprintf("%d NATS users, a Secret each", natsUsers))
	}
	parts = append(parts, "no inline secrets")
	return problems, strings.Join(parts, "; ")
}

func checkContainer(w workload, c any, bad func(string, ...any)) {
	id := w.obj.ID() + " container " + str(c, "name")
	image := str(c, "image")
	if image == "" || strings.HasSuffix(image, ":latest") {
		bad("%s: image %q must be set and not :latest", id, image)
	}
	for _, path := range [][]string{{"requests", "cpu"}, {"requests", "memory"}, {"limits", "cpu"}, {"limits", "memory"}} {
		if get(c, append([]string{"resources"}, path...)...) == nil {
			bad("%s: resources.%s is not set", id, strings.Join(path, "."))
		}
	}
	if v, _ := get(c, "securityContext", "allowPrivilegeEscalation").(bool); v || get(c, "securityContext", "allowPrivilegeEscalation") == nil {
		bad("%s: securityContext.allowPrivilegeEscalation must be false", id)
	}
	if v, _ := get(c, "securityContext", "readOnlyRootFilesystem").(bool); !v {
		bad("%s: securityContext.readOnlyRootFilesystem must be true", id)
	}
	if !slices.Contains(list(c, "securityContext", "capabilities", "drop"), any("ALL")) {
		bad("%s: securityContext.capabilities.drop must contain ALL", id)
	}
	for _, e := range list(c, "env") {
		name := str(e, "name")
		if sensitiveEnv.MatchString(name) && get(e, "valueFrom", "secretKeyRef") == nil && !isFilePathEnv(name, str(e, "value")) {
			bad("%s: %s must come from a Secret (valueFrom.secretKeyRef)", id, name)
		}
	}
	if w.obj.Kind() != "Deployment" {
		return
	}
	ports := map[string]bool{}
	for _, p := range list(c, "ports") {
		ports[str(p, "name")] = true
		ports[fmt.Sprint(get(p, "containerPort"))] = true
	}
	// Readiness on /readyz where the component serves it (the codec server
	// only serves /healthz).
	for probe, paths := range map[string][]string{"livenessProbe": {"/healthz"}, "readinessProbe": {"/readyz", "/healthz"}} {
		if got := str(c, probe, "httpGet", "path"); !slices.Contains(paths, got) {
			bad("%s: %s must be an HTTP GET on %s (got %q)", id, probe, strings.Join(paths, " or "), got)
			continue
		}
		if port := fmt.Sprint(get(c, probe, "httpGet", "port")); !ports[port] {
			bad("%s: %s port %s is not a container port", id, probe, port)
		}
	}
}

// checkHolderConfinement: a holder may reach DNS, NATS and its own database only.
func checkHolderConfinement(w workload, policies []Object, bad func(string, ...any)) {
	id := w.obj.ID()
	holder := w.labels["madoguchi.dev/holder"]
	if holder == "" {
		bad("%s: holder pods need the madoguchi.dev/holder label", id)
		return
	}
	ownDB := "madoguchi-" + holder + "-db"
	for _, p := range policies {
		for _, rule := range list(p, "spec", "egress") {
			ports := portSet(rule)
			peers := list(rule, "to")
			switch {
			case len(peers) == 0 || len(ports) == 0:
				bad("%s: %s allows egress to any destination or port", id, p.ID())
			case onlyPorts(ports, "53/UDP", "53/TCP"):
				// DNS
			case onlyPorts(ports, "4222/TCP"):
				for _, peer := range peers {
					if str(peer, "podSelector", "matchLabels", "app.kubernetes.io/name") != "nats" {
						bad("%s: %s allows port 4222 to something other than the NATS pods", id, p.ID())
					}
				}
			case onlyPorts(ports, "5432/TCP"):
				for _, peer := range peers {
					cluster := str(peer, "podSelector", "matchLabels", "cnpg.io/cluster")
					cidr := str(peer, "ipBlock", "cidr")
					if cluster != ownDB && (cidr == "" || strings.HasSuffix(cidr, "/0")) {
						bad("%s: %s allows PostgreSQL other than its own database %s", id, p.ID(), ownDB)
					}
				}
			default:
				bad("%s: %s allows egress on %v (holders may reach only DNS, NATS and their database)", id, p.ID(), sortedKeys(ports))
			}
		}
	}
}

// checkDatabasePolicies: each madoguchi-<owner>-db cluster admits only its owner.
func checkDatabasePolicies(byKind map[string][]Object, bad func(string, ...any)) int {
	n := 0
	for _, c := range byKind["Cluster"] {
		name := c.Name()
		if !strings.HasPrefix(name, "madoguchi-") || !strings.HasSuffix(name, "-db") {
			continue
		}
		owner := strings.TrimSuffix(strings.TrimPrefix(name, "madoguchi-"), "-db")
		found := false
		for _, p := range byKind["NetworkPolicy"] {
			if str(p, "spec", "podSelector", "matchLabels", "cnpg.io/cluster") != name {
				continue
			}
			found = true
			for _, rule := range list(p, "spec", "ingress") {
				if len(list(rule, "from")) == 0 {
					bad("%s: ingress rule open to every source", p.ID())
				}
				for _, peer := range list(rule, "from") {
					if str(peer, "podSelector", "matchLabels", "app.kubernetes.io/name") == "madoguchi" &&
						str(peer, "podSelector", "matchLabels", "madoguchi.dev/database") != owner {
						bad("%s: admits Madoguchi pods other than the owner %q", p.ID(), owner)
					}
				}
			}
		}
		if !found {
			bad("Cluster/%s: no NetworkPolicy restricts who reaches the database", name)
		}
		n++
	}
	return n
}

func findObject(objs []Object, kind, name string) Object {
	for _, o := range objs {
		if o.Kind() == kind && o.Name() == name {
			return o
		}
	}
	return nil
}

func anySelects(objs []Object, w workload, path ...string) bool {
	for _, o := range objs {
		if sameNamespace(o, w.obj) && selects(obj(o, path...), w.labels) {
			return true
		}
	}
	return false
}

func selectingPolicies(policies []Object, w workload) []Object {
	var out []Object
	for _, p := range policies {
		if sameNamespace(p, w.obj) && selects(obj(p, "spec", "podSelector"), w.labels) {
			out = append(out, p)
		}
	}
	return out
}

func hasPolicyType(policies []Object, t string) bool {
	for _, p := range policies {
		if slices.Contains(list(p, "spec", "policyTypes"), any(t)) {
			return true
		}
	}
	return false
}

func sameNamespace(a, b Object) bool { return a.Namespace() == b.Namespace() }

// selects evaluates a LabelSelector (nil selects nothing; {} selects all).
func selects(sel map[string]any, labels map[string]string) bool {
	if sel == nil {
		return false
	}
	for k, v := range strMap(sel, "matchLabels") {
		if labels[k] != v {
			return false
		}
	}
	for _, e := range list(sel, "matchExpressions") {
		key, op := str(e, "key"), str(e, "operator")
		val, has := labels[key]
		var values []string
		for _, v := range list(e, "values") {
			values = append(values, fmt.Sprint(v))
		}
		switch op {
		case "In":
			if !has || !slices.Contains(values, val) {
				return false
			}
		case "NotIn":
			if has && slices.Contains(values, val) {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func portSet(rule any) map[string]bool {
	out := map[string]bool{}
	for _, p := range list(rule, "ports") {
		proto := str(p, "protocol")
		if proto == "" {
			proto = "TCP"
		}
		out[fmt.Sprint(get(p, "port"))+"/"+proto] = true
	}
	return out
}

func onlyPorts(set map[string]bool, allowed ...string) bool {
	for p := range set {
		if !slices.Contains(allowed, p) {
			return false
		}
	}
	return len(set) > 0
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
