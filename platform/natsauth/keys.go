package natsauth

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// NewSeed returns a new user nkey: its seed ("SU…", the secret a component
// is configured with) and its public key ("U…", what the server knows).
func NewSeed() (seed, public string, err error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", "", fmt.Errorf("natsauth: new nkey: %w", err)
	}
	s, err := kp.Seed()
	if err != nil {
		return "", "", fmt.Errorf("natsauth: new nkey: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return "", "", fmt.Errorf("natsauth: new nkey: %w", err)
	}
	return string(s), pub, nil
}

// PublicKey returns the public key of a user seed.
func PublicKey(seed string) (string, error) {
	kp, err := userKey(seed)
	if err != nil {
		return "", err
	}
	return kp.PublicKey()
}

func userKey(seed string) (nkeys.KeyPair, error) {
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(seed)))
	if err != nil {
		return nil, fmt.Errorf("natsauth: not an nkey seed") // never echo the seed
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return nil, fmt.Errorf("natsauth: not a user nkey seed (SU…)")
	}
	return kp, nil
}

// SeedOption authenticates with a user seed: the client signs the server's
// nonce, the seed itself is never sent.
func SeedOption(seed string) (nats.Option, error) {
	kp, err := userKey(seed)
	if err != nil {
		return nil, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, err
	}
	return nats.Nkey(pub, kp.Sign), nil
}

// KeyVar names the environment variable holding user's public key in the
// generated server configurations ("MADOGUCHI_NKEY_HOLDER_MEMBERS").
func KeyVar(user string) string { return "MADOGUCHI_NKEY_" + envSuffix(user) }

// SeedVar names the variable holding user's seed where one file keeps the
// seeds of several users (.dev/keys.env, deploy/compose/.env):
// "NATS_NKEY_SEED_HOLDER_MEMBERS". A component reads its own from
// NATS_NKEY_SEED.
func SeedVar(user string) string { return "NATS_NKEY_SEED_" + envSuffix(user) }

func envSuffix(user string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(user))
}

// ConnectOptions connect as user with its seed, receiving replies on its
// own inbox prefix.
func ConnectOptions(user, seed string) ([]nats.Option, error) {
	auth, err := SeedOption(seed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", user, err)
	}
	return []nats.Option{auth, nats.CustomInboxPrefix(InboxPrefix(user))}, nil
}
