package main

// NATS users in the rendered manifests: every workload that may reach NATS
// connects as a user of its own (README, "Trust model"), whose seed comes
// from a Secret that no other workload references.

import "strings"

// natsPort is the NATS client port.
const natsPort = "4222/TCP"

// natsSecretPrefix starts the name of every NATS user Secret
// (madoguchi-nats-<user>, key NATS_NKEY_SEED).
const natsSecretPrefix = "madoguchi-nats-"

// checkNATSUsers applies the rule to one rendering and returns how many
// workloads have a NATS user of their own.
func checkNATSUsers(byKind map[string][]Object, workloads []workload, bad func(string, ...any)) int {
	users := map[string][]string{} // Secret -> workloads referencing it
	own := 0
	for _, w := range workloads {
		reaches := false
		for _, p := range selectingPolicies(byKind["NetworkPolicy"], w) {
			for _, rule := range list(p, "spec", "egress") {
				if portSet(rule)[natsPort] {
					reaches = true
				}
			}
		}
		secret := ""
		for _, c := range list(w.spec, "containers") {
			for _, e := range list(c, "env") {
				if str(e, "name") != "NATS_NKEY_SEED" {
					continue
				}
				secret = str(e, "valueFrom", "secretKeyRef", "name")
				if !strings.HasPrefix(secret, natsSecretPrefix) || str(e, "valueFrom", "secretKeyRef", "key") != "NATS_NKEY_SEED" {
					bad("%s: NATS_NKEY_SEED must come from Secret %s<user>, key NATS_NKEY_SEED (got %q)", w.obj.ID(), natsSecretPrefix, secret)
					secret = ""
				}
			}
		}
		switch {
		case secret != "":
			users[secret] = append(users[secret], w.obj.ID())
			own++
		case reaches:
			bad("%s: may reach NATS (port 4222) but has no NATS user of its own (NATS_NKEY_SEED from Secret %s<user>)", w.obj.ID(), natsSecretPrefix)
		}
	}
	for secret, ws := range users {
		if len(ws) > 1 {
			bad("Secret %s (one NATS user) is referenced by %d workloads (%s): each component has its own", secret, len(ws), strings.Join(ws, ", "))
		}
	}
	return own
}
