// Package codec encrypts Temporal payloads with the seal key ring, so that
// workflow histories hold only ciphertext; the codec server and authorised
// clients decrypt.
package codec

import (
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"madoguchi.dev/platform/seal"
)

const (
	// MetadataEncoding marks a payload this codec encrypted.
	MetadataEncoding = "binary/encrypted"
	// MetadataKeyID names the key, so that old histories stay readable after
	// a rotation.
	MetadataKeyID = "encryption-key-id"
)

// aad binds ciphertext to this use; a payload cannot be moved into a NATS
// envelope or vice versa.
var aad = []byte("temporal-payload")

// Codec is a converter.PayloadCodec backed by a seal.Ring.
type Codec struct{ ring *seal.Ring }

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec sealing with ring's active key.
func New(ring *seal.Ring) *Codec { return &Codec{ring: ring} }

// DataConverter wraps the default converter with encryption.
func DataConverter(ring *seal.Ring) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), New(ring))
}

// Encode encrypts each payload (metadata and data together).
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := p.Marshal()
		if err != nil {
			return nil, fmt.Errorf("codec: marshal payload: %w", err)
		}
		keyID, nonce, ct, err := c.ring.Seal(plain, aad)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(MetadataEncoding),
				MetadataKeyID:              []byte(keyID),
			},
			Data: append(nonce, ct...),
		}
	}
	return out, nil
}

// Decode decrypts payloads this codec encrypted and passes others through
// (e.g. search attributes, which Temporal must be able to read).
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != MetadataEncoding {
			out[i] = p
			continue
		}
		keyID := string(p.GetMetadata()[MetadataKeyID])
		const nonceSize = 12
		if len(p.GetData()) < nonceSize {
			return nil, fmt.Errorf("codec: encrypted payload too short")
		}
		plain, err := c.ring.Open(keyID, p.Data[:nonceSize], p.Data[nonceSize:], aad)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", keyID, err)
		}
		dec := &commonpb.Payload{}
		if err := dec.Unmarshal(plain); err != nil {
			return nil, fmt.Errorf("codec: unmarshal payload: %w", err)
		}
		out[i] = dec
	}
	return out, nil
}
