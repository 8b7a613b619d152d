package codec_test

// Fuzz tests for the Temporal payload codec: Decode sees whatever a history,
// a codec-server client or a misconfigured worker hands it.
//
//	go test -run='^$' -fuzz=FuzzCodecDecode -fuzztime=20s ./platform/codec/
//	go test -run='^$' -fuzz=FuzzCodecDecodeWire -fuzztime=20s ./platform/codec/
//	go test -run='^$' -fuzz=FuzzCodecRoundTrip -fuzztime=20s ./platform/codec/

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/codec"
	"madoguchi.dev/platform/seal"
)

// fuzzCodec uses fixed test keys ("fz2" active, "fz1" old) so that committed
// seeds can hold payloads that really decrypt.
func fuzzCodec(tb testing.TB) *codec.Codec {
	tb.Helper()
	r, err := seal.NewRing("fz2", map[string][]byte{"fz2": bytes.Repeat([]byte{0x42}, 32), "fz1": bytes.Repeat([]byte{0x17}, 32)})
	if err != nil {
		tb.Fatal(err)
	}
	return codec.New(r)
}

func encryptedSeeds(tb testing.TB, c *codec.Codec) []*commonpb.Payload {
	tb.Helper()
	ps, err := converter.GetDefaultDataConverter().ToPayloads("hanako@example.jp", map[string]int{"a": 1}, nil, []byte{0, 1})
	if err != nil {
		tb.Fatal(err)
	}
	enc, err := c.Encode(ps.GetPayloads())
	if err != nil {
		tb.Fatal(err)
	}
	return enc
}

// checkDecoded: one output per input; an input without the encrypted marker
// passes through untouched; an output never carries the marker of this
// codec's own envelope with undecrypted data.
func checkDecoded(t *testing.T, in, out []*commonpb.Payload, err error) {
	t.Helper()
	if err != nil {
		if out != nil {
			t.Fatalf("Decode returned payloads with an error")
		}
		if !strings.HasPrefix(err.Error(), "codec: ") {
			t.Fatalf("Decode error %q does not say it is the codec's", err)
		}
		return
	}
	if len(out) != len(in) {
		t.Fatalf("Decode returned %d payloads for %d", len(out), len(in))
	}
	for i, p := range in {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != codec.MetadataEncoding {
			if out[i] != p {
				t.Fatalf("payload %d without the encrypted marker was changed", i)
			}
		}
	}
}

// FuzzCodecDecode builds a payload from arbitrary metadata and data (with or
// without the encrypted marker and a key id) next to a real encrypted one:
// Decode never panics and either decrypts everything or fails with a codec
// error.
func FuzzCodecDecode(f *testing.F) {
	c := fuzzCodec(f)
	for _, p := range encryptedSeeds(f, c) {
		f.Add(string(p.Metadata[converter.MetadataEncoding]), string(p.Metadata[codec.MetadataKeyID]), p.Data, true)
		f.Add(string(p.Metadata[converter.MetadataEncoding]), "fz9", p.Data, false)
		f.Add(string(p.Metadata[converter.MetadataEncoding]), "fz2", p.Data[:11], true)
	}
	f.Add("json/plain", "", []byte(`"hanako@example.jp"`), false)
	f.Add("", "", []byte(nil), true)
	f.Fuzz(func(t *testing.T, encoding, keyID string, data []byte, withKeyID bool) {
		p := &commonpb.Payload{Metadata: map[string][]byte{converter.MetadataEncoding: []byte(encoding)}, Data: data}
		if withKeyID {
			p.Metadata[codec.MetadataKeyID] = []byte(keyID)
		}
		good := encryptedSeeds(t, c)[0]
		for _, in := range [][]*commonpb.Payload{{p}, {good, p}, {p, nil}} {
			out, err := c.Decode(in)
			checkDecoded(t, in, out, err)
		}
	})
}

// FuzzCodecDecodeWire decodes arbitrary bytes as a Payloads message (as a
// codec server receives them) and runs Decode on the result.
func FuzzCodecDecodeWire(f *testing.F) {
	c := fuzzCodec(f)
	b, err := proto.Marshal(&commonpb.Payloads{Payloads: encryptedSeeds(f, c)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, wire []byte) {
		var ps commonpb.Payloads
		if err := proto.Unmarshal(wire, &ps); err != nil {
			return
		}
		out, err := c.Decode(ps.GetPayloads())
		checkDecoded(t, ps.GetPayloads(), out, err)
	})
}

// FuzzCodecRoundTrip: Decode(Encode(p)) == p for any payload, and the
// encoded payload carries neither the data nor the metadata in the clear.
func FuzzCodecRoundTrip(f *testing.F) {
	c := fuzzCodec(f)
	f.Add("encoding", "json/plain", []byte(`"090-1234-5678"`))
	f.Add("encoding", codec.MetadataEncoding, []byte("nested"))
	f.Add("", "", []byte{})
	f.Fuzz(func(t *testing.T, mk, mv string, data []byte) {
		p := &commonpb.Payload{Data: data}
		if mk != "" {
			p.Metadata = map[string][]byte{mk: []byte(mv)}
		}
		enc, err := c.Encode([]*commonpb.Payload{p})
		if err != nil {
			// A metadata key is a proto string: invalid UTF-8 cannot be
			// marshalled (nor arrive from Temporal); a clear error is right.
			if !utf8.ValidString(mk) && strings.HasPrefix(err.Error(), "codec: marshal payload") {
				return
			}
			t.Fatalf("Encode: %v", err)
		}
		if len(data) >= 8 && bytes.Contains(enc[0].GetData(), data) {
			t.Fatalf("encoded payload holds the data in the clear")
		}
		// The codec's own metadata is fixed: encoding, binary/encrypted,
		// encryption-key-id, fz2.
		own := converter.MetadataEncoding + codec.MetadataEncoding + codec.MetadataKeyID + "fz2"
		for k, v := range enc[0].GetMetadata() {
			if len(mv) >= 8 && !strings.Contains(own, mv) && (strings.Contains(k, mv) || bytes.Contains(v, []byte(mv))) {
				t.Fatalf("encoded metadata %q=%q holds the original metadata value", k, v)
			}
		}
		dec, err := c.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(p)): %v", err)
		}
		if !proto.Equal(dec[0], p) {
			t.Fatalf("Decode(Encode(p)) = %v, want %v", dec[0], p)
		}
	})
}
