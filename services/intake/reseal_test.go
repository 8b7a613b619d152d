package intake_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/testinfra"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/intake"
)

func keyIDs(t *testing.T, s *site, query string) map[string]int {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id]++
	}
	return out
}

func outboxKeyIDs(t *testing.T, s *site) map[string]int {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), "SELECT payload FROM outbox")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			t.Fatal(err)
		}
		var ev dsrv1.RequestSubmitted
		if err := proto.Unmarshal(payload, &ev); err != nil {
			t.Fatal(err)
		}
		out[ev.GetPersonal().GetKeyId()]++
	}
	return out
}

// After a key rotation, Reseal moves everything the intake stores sealed
// (personal data, documents, announcements) to the active key, so that the
// old key can leave the ring: a ring without it opens every row.
func TestResealMovesEveryStoredCiphertextToTheActiveKey(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	ctx := context.Background()
	oldSpec := testinfra.RingSpec(t, "old")
	old, err := seal.ParseRing(oldSpec)
	if err != nil {
		t.Fatal(err)
	}
	s.ring, s.svc.Ring = old, old
	if r := s.postMultipart(t, "/requests", formFields(agentForm("ja")),
		map[string][]byte{"doc_authority": pdfBytes, "doc_agent_id": jpegBytes}, nil); r.status != http.StatusOK {
		t.Fatalf("agent form: %d", r.status)
	}
	receipt, _ := s.submitted(t, exampleJSON)
	if got := keyIDs(t, s, "SELECT personal_key_id FROM requests"); got["old"] != 2 {
		t.Fatalf("test setup: requests sealed with %v", got)
	}

	newSpec := testinfra.RingSpec(t, "new")
	rotated, err := seal.ParseRing(newSpec + "," + oldSpec) // new seals, old still opens
	if err != nil {
		t.Fatal(err)
	}
	svc := &intake.Service{Pool: s.pool, Ring: rotated, Namespace: s.ns, Log: s.svc.Log}
	st, err := svc.Reseal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 2 || st.Uploads != 2 || st.Announcements != 2 {
		t.Errorf("Reseal = %+v; want 2 requests, 2 uploads, 2 announcements", st)
	}
	for what, got := range map[string]map[string]int{
		"requests": keyIDs(t, s, "SELECT personal_key_id FROM requests"),
		"uploads":  keyIDs(t, s, "SELECT key_id FROM uploads"),
		"outbox":   outboxKeyIDs(t, s),
	} {
		if got["old"] != 0 || got["new"] != 2 {
			t.Errorf("%s sealed with %v after Reseal; want all with the new key", what, got)
		}
	}

	// The old key can go: a ring of the new key alone opens everything.
	onlyNew, err := seal.ParseRing(newSpec)
	if err != nil {
		t.Fatal(err)
	}
	s.ring = onlyNew
	if tok := s.tokenOf(t, receipt); len(tok) != 64 {
		t.Errorf("status token after reseal = %q", tok)
	}
	reader := &intake.Service{Pool: s.pool, Ring: onlyNew, Namespace: s.ns, Log: s.svc.Log}
	var uploadID string
	if err := s.pool.QueryRow(ctx, "SELECT id::text FROM uploads WHERE purpose = 'authority'").Scan(&uploadID); err != nil {
		t.Fatal(err)
	}
	if _, _, content, err := reader.OpenUpload(ctx, uploadID); err != nil || !bytes.Equal(content, pdfBytes) {
		t.Errorf("document after reseal: %v", err)
	}
	// Nothing left: a second run rewrites nothing.
	if st, err := svc.Reseal(ctx); err != nil || st != (intake.ResealStats{}) {
		t.Errorf("second Reseal = %+v, %v; want nothing to do", st, err)
	}
}
