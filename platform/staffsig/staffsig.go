// Package staffsig signs staff actions on the staff side and checks them in
// the request workflow, so that reaching the Temporal frontend is not
// enough to act as staff, or under another staff member's name.
//
// A staff action (dsr.v1.Decide, ReviewIdentity, …) travels as a Temporal
// update. Anyone who can call the frontend can send one, naming any actor;
// the workflow cannot tell who sent it. So the staff side (services/staff,
// which authenticates the staff member first) signs each action with an
// Ed25519 key only it holds, and the workflow's update validators check the
// signature with the public keys alone (MADOGUCHI_STAFF_VERIFY_KEYS): a
// worker, a history reader or a leaked worker configuration can check
// signatures but never make one.
//
// The signature covers, in one domain-separated encoding (Message): the
// key id, the workflow id, the update name, the actor, the time of issue,
// a random nonce and the action's canonical bytes (Payload: its
// deterministic protobuf encoding without the signature field). So a
// signature made for one request, one update or one set of fields is
// worthless for any other; Verify bounds its age (MaxAge, MaxSkew); and the
// workflow accepts each nonce once, which leaves nothing to replay.
//
// Keys carry ids ("id:base64", as the seal rings), so that a new key can
// be trusted next to the old one before the staff side switches to it.
package staffsig

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// The window around the workflow's time in which a signature is fresh:
// issued at most MaxAge before it, and at most MaxSkew after it (the staff
// side's clock may run a little ahead of the server's).
const (
	MaxAge  = 5 * time.Minute
	MaxSkew = time.Minute
)

// NonceSize is the length of a signature's random nonce.
const NonceSize = 16

// domain separates these signatures from any other use of the same key.
const domain = "madoguchi.staffsig.v1\x00"

// Action is a staff action: a message with the actor it names and a
// dsr.v1.StaffSignature field named "signature".
type Action interface {
	proto.Message
	GetActor() string
	GetSignature() *dsrv1.StaffSignature
}

// Errors Verify returns (wrapped, with details); their text is what staff
// read when the workflow rejects an action.
var (
	ErrUnsigned     = errors.New("the staff action is not signed: staff act through dsrctl (services/staff), which signs each action")
	ErrUntrustedKey = errors.New("the staff action is signed with a key the worker does not trust")
	ErrBadSignature = errors.New("the staff signature does not match this action on this request " +
		"(signed for another request or update, altered, or forged)")
	ErrStale    = errors.New("the staff signature is stale")
	ErrFuture   = errors.New("the staff signature is issued in the future")
	ErrNoActor  = errors.New("the staff member (actor) must be named in the signature")
	ErrActor    = errors.New("the action names another actor than the one who signed it")
	ErrReplayed = errors.New("the staff signature was used before: an action is accepted once")
	// ErrNoKeys: the worker holds no staff verification keys.
	ErrNoKeys = errors.New("the worker holds no staff verification keys (MADOGUCHI_STAFF_VERIFY_KEYS): no staff action can be accepted")
)

var (
	keyIDRE       = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	signatureName = (&dsrv1.StaffSignature{}).ProtoReflect().Descriptor().FullName()
)

// signatureField is a's StaffSignature field.
func signatureField(a Action) (protoreflect.FieldDescriptor, error) {
	fd := a.ProtoReflect().Descriptor().Fields().ByName("signature")
	if fd == nil || fd.Message() == nil || fd.Message().FullName() != signatureName || fd.IsList() {
		return nil, fmt.Errorf("staffsig: %s has no StaffSignature field named signature", a.ProtoReflect().Descriptor().FullName())
	}
	return fd, nil
}

// Payload is the canonical encoding of a: its deterministic protobuf
// encoding without the signature field. Signer and verifier both call it,
// so they sign and check the same bytes.
func Payload(a Action) ([]byte, error) {
	fd, err := signatureField(a)
	if err != nil {
		return nil, err
	}
	c := proto.Clone(a)
	c.ProtoReflect().Clear(fd)
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("staffsig: encode action: %w", err)
	}
	return b, nil
}

// Message is what a signature signs: the domain, then each part with its
// length (4 bytes, big-endian) — key id, workflow id, update name, actor,
// nonce, payload — and the time of issue (seconds 8 bytes, nanoseconds 4).
func Message(keyID, workflowID, update, actor string, issuedAt *timestamppb.Timestamp, nonce, payload []byte) []byte {
	b := make([]byte, 0, len(domain)+6*4+len(keyID)+len(workflowID)+len(update)+len(actor)+len(nonce)+len(payload)+12)
	b = append(b, domain...)
	for _, part := range [][]byte{[]byte(keyID), []byte(workflowID), []byte(update), []byte(actor), nonce, payload} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(part)))
		b = append(b, part...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(issuedAt.GetSeconds()))
	return binary.BigEndian.AppendUint32(b, uint32(issuedAt.GetNanos()))
}

// Signer signs staff actions with the staff side's key.
type Signer struct {
	id  string
	key ed25519.PrivateKey
	// Now is the clock of issue (default time.Now).
	Now func() time.Time
	// Rand gives nonces (default crypto/rand).
	Rand io.Reader
}

// NewSigner signs with the Ed25519 private key of id.
func NewSigner(id string, key ed25519.PrivateKey) (*Signer, error) {
	if !keyIDRE.MatchString(id) {
		return nil, fmt.Errorf("staffsig: key id %q: want 1-64 of A-Z a-z 0-9 . _ -", id)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("staffsig: not an Ed25519 private key")
	}
	return &Signer{id: id, key: key}, nil
}

// ParseSigningKey reads MADOGUCHI_STAFF_SIGNING_KEY: "id:base64seed", the
// 32-byte Ed25519 seed in standard base64.
func ParseSigningKey(spec string) (*Signer, error) {
	id, seed, err := parseEntry(spec, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	return NewSigner(id, ed25519.NewKeyFromSeed(seed))
}

// KeyID names the key the signer signs with.
func (s *Signer) KeyID() string { return s.id }

// VerifyKey is the signer's entry for MADOGUCHI_STAFF_VERIFY_KEYS
// ("id:base64pub").
func (s *Signer) VerifyKey() string {
	return s.id + ":" + base64.StdEncoding.EncodeToString(s.key.Public().(ed25519.PublicKey))
}

// Sign sets a's signature: actor acts on workflow workflowID through
// update, now. The actor field of a, when set, must name the same actor
// (the workflow records the signed one). Signing again replaces the
// signature with a fresh one (a retry after a rejection).
func (s *Signer) Sign(workflowID, update, actor string, a Action) error {
	if a.GetActor() != "" && a.GetActor() != actor {
		return fmt.Errorf("staffsig: %w", ErrActor)
	}
	fd, err := signatureField(a)
	if err != nil {
		return err
	}
	payload, err := Payload(a)
	if err != nil {
		return err
	}
	now, rnd := time.Now, s.Rand
	if s.Now != nil {
		now = s.Now
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	nonce := make([]byte, NonceSize)
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return fmt.Errorf("staffsig: nonce: %w", err)
	}
	sig := &dsrv1.StaffSignature{KeyId: s.id, Actor: actor, IssuedAt: timestamppb.New(now()), Nonce: nonce}
	sig.Signature = ed25519.Sign(s.key, Message(sig.KeyId, workflowID, update, actor, sig.IssuedAt, nonce, payload))
	a.ProtoReflect().Set(fd, protoreflect.ValueOfMessage(sig.ProtoReflect()))
	return nil
}

// NewKeyPair returns a fresh signing key (for MADOGUCHI_STAFF_SIGNING_KEY,
// the staff side) and its public key (for MADOGUCHI_STAFF_VERIFY_KEYS, the
// worker), both under id.
func NewKeyPair(id string) (signing, verify string, err error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("staffsig: generate key: %w", err)
	}
	s, err := NewSigner(id, key)
	if err != nil {
		return "", "", err
	}
	return id + ":" + base64.StdEncoding.EncodeToString(key.Seed()), s.VerifyKey(), nil
}

// Keys are the public keys the workflow trusts, by id.
type Keys struct {
	pub map[string]ed25519.PublicKey
}

// ParseVerifyKeys reads MADOGUCHI_STAFF_VERIFY_KEYS: "id:base64pub,…",
// each a 32-byte Ed25519 public key in standard base64. Every key listed
// is trusted; to rotate, list the new one next to the old, move the staff
// side to the new one, then drop the old.
func ParseVerifyKeys(spec string) (*Keys, error) {
	k := &Keys{pub: map[string]ed25519.PublicKey{}}
	for _, part := range strings.Split(spec, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		id, pub, err := parseEntry(part, ed25519.PublicKeySize)
		if err != nil {
			return nil, err
		}
		if _, dup := k.pub[id]; dup {
			return nil, fmt.Errorf("staffsig: key id %q appears twice", id)
		}
		k.pub[id] = ed25519.PublicKey(pub)
	}
	if len(k.pub) == 0 {
		return nil, errors.New("staffsig: no staff verification key")
	}
	return k, nil
}

// IDs lists the trusted key ids, sorted.
func (k *Keys) IDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, 0, len(k.pub))
	for id := range k.pub {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Signed is what a valid signature establishes.
type Signed struct {
	KeyID, Actor string
	IssuedAt     time.Time
	// Nonce is the signature's nonce in hex: the workflow keeps it to
	// accept each signature once.
	Nonce string
}

// Verify checks that a was signed by a trusted key for update on workflow
// workflowID, names (if anything) the actor who signed, and was issued
// within MaxAge before now and MaxSkew after it. now is the workflow's
// time (workflow.Now), so the check is the same wherever it runs. Whether
// the nonce was used before is the caller's to check (it keeps the nonces).
func (k *Keys) Verify(workflowID, update string, a Action, now time.Time) (Signed, error) {
	sig := a.GetSignature()
	if sig == nil {
		return Signed{}, ErrUnsigned
	}
	if k == nil || len(k.pub) == 0 {
		return Signed{}, ErrNoKeys
	}
	pub, ok := k.pub[sig.GetKeyId()]
	if !ok {
		return Signed{}, fmt.Errorf("%w (key id %q)", ErrUntrustedKey, sig.GetKeyId())
	}
	if len(sig.GetNonce()) != NonceSize || sig.GetIssuedAt() == nil || sig.GetIssuedAt().CheckValid() != nil {
		return Signed{}, ErrBadSignature
	}
	payload, err := Payload(a)
	if err != nil {
		return Signed{}, err
	}
	msg := Message(sig.GetKeyId(), workflowID, update, sig.GetActor(), sig.GetIssuedAt(), sig.GetNonce(), payload)
	if !ed25519.Verify(pub, msg, sig.GetSignature()) {
		return Signed{}, ErrBadSignature
	}
	actor := sig.GetActor()
	if strings.TrimSpace(actor) == "" {
		return Signed{}, ErrNoActor
	}
	if a.GetActor() != "" && a.GetActor() != actor {
		return Signed{}, fmt.Errorf("%w (%q, signed by %q)", ErrActor, a.GetActor(), actor)
	}
	issued := sig.GetIssuedAt().AsTime()
	if age := now.Sub(issued); age > MaxAge {
		return Signed{}, fmt.Errorf("%w: issued %v before the request's time (at most %v)", ErrStale, age.Round(time.Second), MaxAge)
	}
	if ahead := issued.Sub(now); ahead > MaxSkew {
		return Signed{}, fmt.Errorf("%w: %v ahead of the request's time (at most %v)", ErrFuture, ahead.Round(time.Second), MaxSkew)
	}
	return Signed{KeyID: sig.GetKeyId(), Actor: actor, IssuedAt: issued, Nonce: hex.EncodeToString(sig.GetNonce())}, nil
}

// parseEntry reads "id:base64" holding size bytes.
func parseEntry(spec string, size int) (string, []byte, error) {
	id, b64, ok := strings.Cut(strings.TrimSpace(spec), ":")
	if !ok {
		return "", nil, errors.New("staffsig: key entry without ':' (want id:base64)")
	}
	if !keyIDRE.MatchString(id) {
		return "", nil, fmt.Errorf("staffsig: key id %q: want 1-64 of A-Z a-z 0-9 . _ -", id)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", nil, fmt.Errorf("staffsig: key %q is not base64", id)
	}
	if len(b) != size {
		return "", nil, fmt.Errorf("staffsig: key %q has %d bytes, want %d", id, len(b), size)
	}
	return id, b, nil
}
