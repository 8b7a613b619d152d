package seal

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// Message seals a protobuf message into a dsr.v1.Sealed envelope.
func (r *Ring) Message(m proto.Message) (*dsrv1.Sealed, error) { return r.MessageFor(m, "") }

// MessageFor seals m bound to scope (say, a request id and a holder): the
// envelope opens only with OpenMessageFor and the same scope, so it cannot
// be moved to another request. An empty scope is Message.
func (r *Ring) MessageFor(m proto.Message, scope string) (*dsrv1.Sealed, error) {
	pt, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("seal: marshal: %w", err)
	}
	typ := string(m.ProtoReflect().Descriptor().FullName())
	id, nonce, ct, err := r.Seal(pt, scopedAAD(typ, scope))
	if err != nil {
		return nil, err
	}
	return &dsrv1.Sealed{KeyId: id, Nonce: nonce, Ciphertext: ct, Type: typ}, nil
}

func scopedAAD(typ, scope string) []byte {
	if scope == "" {
		return []byte(typ)
	}
	return []byte(typ + "\x00" + scope)
}

// OpenMessage opens an envelope into m, which must be of the sealed type.
func (r *Ring) OpenMessage(s *dsrv1.Sealed, m proto.Message) error { return r.OpenMessageFor(s, m, "") }

// OpenMessageFor opens an envelope MessageFor sealed for scope.
func (r *Ring) OpenMessageFor(s *dsrv1.Sealed, m proto.Message, scope string) error {
	if s == nil {
		return errors.New("seal: no envelope")
	}
	want := string(m.ProtoReflect().Descriptor().FullName())
	if s.GetType() != want {
		return fmt.Errorf("seal: envelope holds %q, want %q", s.GetType(), want)
	}
	pt, err := r.Open(s.GetKeyId(), s.GetNonce(), s.GetCiphertext(), scopedAAD(want, scope))
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(pt, m); err != nil {
		return fmt.Errorf("seal: unmarshal %s: %w", want, err)
	}
	return nil
}
