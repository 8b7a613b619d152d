package main

// Microbenchmarks of the per-request CPU work on the hot paths, run by
// `make bench` with: go test -run='^$' -bench=. -benchmem ./cmd/bench/

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/codec"
	"madoguchi.dev/platform/pseudonym"
	"madoguchi.dev/platform/seal"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/intake"
)

func benchRing(b *testing.B) *seal.Ring {
	b.Helper()
	spec, err := seal.NewKeySpec("bench")
	if err != nil {
		b.Fatal(err)
	}
	r, err := seal.ParseRing(spec)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func personal() *dsrv1.PersonalData {
	return &dsrv1.PersonalData{
		Subject: &dsrv1.Subject{Name: "山田 花子", NameKana: "ヤマダ ハナコ", Email: "hanako@example.jp", Phone: "090-1234-5678", MemberId: "M-1001"},
		Details: "退会したので全て削除してください", StatusToken: strings.Repeat("ab", 32), DisclosureMethod: "electronic",
	}
}

// BenchmarkSealMessage: sealing a request's personal data (intake, activities).
func BenchmarkSealMessage(b *testing.B) {
	r, pd := benchRing(b), personal()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Message(pd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenMessage: opening it again (every activity and holder command).
func BenchmarkOpenMessage(b *testing.B) {
	r := benchRing(b)
	s, err := r.Message(personal())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var pd dsrv1.PersonalData
		if err := r.OpenMessage(s, &pd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCodecEncode: encrypting a workflow input (the RequestSubmitted
// the bridge starts a workflow with) with the Temporal payload codec.
func BenchmarkCodecEncode(b *testing.B) {
	r := benchRing(b)
	s, _ := r.Message(personal())
	ps, err := converter.GetDefaultDataConverter().ToPayloads(&dsrv1.RequestSubmitted{RequestId: "01a2-bench", Receipt: "20261125-7K3M9Q",
		Kind: dsrv1.RequestKind_REQUEST_KIND_DELETION, Jurisdiction: "JP", Locale: "ja", SubmittedAt: timestamppb.Now(), Personal: s})
	if err != nil {
		b.Fatal(err)
	}
	c := codec.New(r)
	b.ReportAllocs()
	b.SetBytes(int64(proto.Size(ps)))
	for b.Loop() {
		if _, err := c.Encode(ps.GetPayloads()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCodecDecode: decrypting it (every workflow task replaying it).
func BenchmarkCodecDecode(b *testing.B) {
	r := benchRing(b)
	s, _ := r.Message(personal())
	ps, err := converter.GetDefaultDataConverter().ToPayloads(&dsrv1.RequestSubmitted{RequestId: "01a2-bench", Receipt: "20261125-7K3M9Q",
		Kind: dsrv1.RequestKind_REQUEST_KIND_DELETION, Jurisdiction: "JP", Locale: "ja", SubmittedAt: timestamppb.Now(), Personal: s})
	if err != nil {
		b.Fatal(err)
	}
	c := codec.New(r)
	enc, err := c.Encode(ps.GetPayloads())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

const submissionJSON = `{"kind":"deletion","jurisdiction":"JP","locale":"ja","subject":{"name":"山田 花子","email":"hanako@example.jp","member_id":"M-1001"},"details":"退会したので全て削除してください"}`

// BenchmarkSubmissionDecodeNormaliseValidate: the intake's CPU work on a
// JSON body before it touches the database.
func BenchmarkSubmissionDecodeNormaliseValidate(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(submissionJSON)))
	for b.Loop() {
		var s intake.Submission
		if err := json.Unmarshal([]byte(submissionJSON), &s); err != nil {
			b.Fatal(err)
		}
		s.Normalise()
		if errs := s.Validate(); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkSubmissionValidate: Validate alone, on a normalised submission.
func BenchmarkSubmissionValidate(b *testing.B) {
	var s intake.Submission
	if err := json.Unmarshal([]byte(submissionJSON), &s); err != nil {
		b.Fatal(err)
	}
	s.Normalise()
	b.ReportAllocs()
	for b.Loop() {
		if errs := s.Validate(); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkPseudonymOf: one pseudonymous id (erasure events, duplicate links).
func BenchmarkPseudonymOf(b *testing.B) {
	k, err := pseudonym.NewKey([]byte(strings.Repeat("k", 32)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = k.Of(pseudonym.Email, "Hanako@Example.jp")
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	var d []int
	for i := 1; i <= 100; i++ {
		d = append(d, i)
	}
	samples := durations(d...)
	for _, c := range []struct {
		p    float64
		want int
	}{{50, 50}, {99, 99}, {100, 100}, {1, 1}, {0.1, 1}} {
		if got := percentile(samples, c.p); got != durations(c.want)[0] {
			t.Errorf("p%v = %v, want %v", c.p, got, durations(c.want)[0])
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
}

func durations(ms ...int) []time.Duration {
	var out []time.Duration
	for _, m := range ms {
		out = append(out, time.Duration(m)*time.Millisecond)
	}
	return out
}

func TestTableAlignsColumns(t *testing.T) {
	var b strings.Builder
	printTable(&b, []Row{{Metric: "m", Madoguchi: "1/s", Baseline: "2/s", Ratio: 0.5, Target: "≥ 50%", Verdict: "pass"}})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], "50%") || !strings.HasPrefix(lines[1], "-") {
		t.Errorf("table:\n%s", b.String())
	}
}
