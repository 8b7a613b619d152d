package codec_test

import (
	"bytes"
	"errors"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/codec"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/testinfra"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

const email = "hanako@example.jp"

func payloads(t *testing.T, values ...any) []*commonpb.Payload {
	t.Helper()
	ps, err := converter.GetDefaultDataConverter().ToPayloads(values...)
	if err != nil {
		t.Fatal(err)
	}
	return ps.GetPayloads()
}

func ring(t *testing.T, spec string) *seal.Ring {
	t.Helper()
	r, err := seal.ParseRing(spec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEncodedPayloadsHoldNoPlaintext(t *testing.T) {
	c := codec.New(testinfra.Ring(t))
	in := payloads(t, email, &dsrv1.Subject{Name: "山田 花子", Email: email})
	enc, err := c.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) != len(in) {
		t.Fatalf("Encode returned %d payloads for %d", len(enc), len(in))
	}
	for i, p := range enc {
		wire, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{email, "hanako", "山田", "json/plain", "json/protobuf", "dsr.v1.Subject"} {
			if bytes.Contains(wire, []byte(secret)) {
				t.Errorf("payload %d holds %q in the clear", i, secret)
			}
		}
		if got := string(p.GetMetadata()[converter.MetadataEncoding]); got != codec.MetadataEncoding {
			t.Errorf("payload %d encoding = %q, want %q", i, got, codec.MetadataEncoding)
		}
		if got := string(p.GetMetadata()[codec.MetadataKeyID]); got != "test1" {
			t.Errorf("payload %d key id = %q, want test1", i, got)
		}
	}
}

func TestDecodeInvertsEncode(t *testing.T) {
	c := codec.New(testinfra.Ring(t))
	in := payloads(t, email, 42, &dsrv1.Subject{Name: "山田 花子", Email: email}, nil)
	enc, err := c.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := c.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(dec) != len(in) {
		t.Fatalf("Decode returned %d payloads for %d", len(dec), len(in))
	}
	for i := range in {
		if !proto.Equal(dec[i], in[i]) {
			t.Errorf("payload %d: decoded %v, want %v", i, dec[i], in[i])
		}
	}
}

func TestPayloadsWithoutTheEncryptedMarkerPassThrough(t *testing.T) {
	c := codec.New(testinfra.Ring(t))
	// Search attributes and payloads written before encryption was enabled.
	in := payloads(t, "Keyword value", true)
	out, err := c.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if !proto.Equal(out[i], in[i]) {
			t.Errorf("payload %d changed: %v, want %v", i, out[i], in[i])
		}
	}
}

func TestOldKeyStillDecodesAfterRotation(t *testing.T) {
	oldSpec, newSpec := testinfra.RingSpec(t, "old"), testinfra.RingSpec(t, "new")
	in := payloads(t, email)
	enc, err := codec.New(ring(t, oldSpec)).Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	rotated := codec.New(ring(t, newSpec+","+oldSpec))
	dec, err := rotated.Decode(enc)
	if err != nil {
		t.Fatalf("history written under the old key is unreadable after rotation: %v", err)
	}
	if !proto.Equal(dec[0], in[0]) {
		t.Errorf("decoded %v, want %v", dec[0], in[0])
	}
	again, err := rotated.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(again[0].GetMetadata()[codec.MetadataKeyID]); got != "new" {
		t.Errorf("rotated codec encodes with %q, want new", got)
	}
	if _, err := codec.New(ring(t, newSpec)).Decode(enc); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("after retiring the old key: err = %v, want ErrUnknownKey", err)
	}
}

func TestTamperedOrShortPayloadsFailToDecode(t *testing.T) {
	c := codec.New(testinfra.Ring(t))
	enc, err := c.Encode(payloads(t, email))
	if err != nil {
		t.Fatal(err)
	}
	enc[0].Data[len(enc[0].Data)-1] ^= 1
	if _, err := c.Decode(enc); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("tampered payload: err = %v, want ErrOpen", err)
	}
	enc[0].Data = enc[0].Data[:5]
	if _, err := c.Decode(enc); err == nil {
		t.Error("a 5-byte encrypted payload decoded")
	}
}

func TestPayloadCannotBeMovedIntoASealedEnvelope(t *testing.T) {
	r := testinfra.Ring(t)
	enc, err := codec.New(r).Encode(payloads(t, email))
	if err != nil {
		t.Fatal(err)
	}
	d := enc[0].GetData()
	env := &dsrv1.Sealed{KeyId: r.ActiveKeyID(), Nonce: d[:12], Ciphertext: d[12:], Type: "temporal.api.common.v1.Payload"}
	if err := r.OpenMessage(env, &commonpb.Payload{}); err == nil {
		t.Error("a Temporal payload opened as a NATS envelope: the AADs do not separate the two uses")
	}
}

func TestDataConverterRoundTripsAString(t *testing.T) {
	dc := codec.DataConverter(testinfra.Ring(t))
	p, err := dc.ToPayload("山田 花子 <" + email + ">")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.GetData(), []byte(email)) {
		t.Error("converter payload holds the e-mail in the clear")
	}
	var got string
	if err := dc.FromPayload(p, &got); err != nil {
		t.Fatal(err)
	}
	if got != "山田 花子 <"+email+">" {
		t.Errorf("round trip = %q", got)
	}
	// A converter without the key cannot read it.
	if err := codec.DataConverter(testinfra.Ring(t)).FromPayload(p, &got); err == nil {
		t.Error("a converter with another key ring read the payload")
	}
}
