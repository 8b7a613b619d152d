package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"madoguchi.dev/platform/staffsig"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/intake"
	"madoguchi.dev/workflows/request"
)

// person is someone a deletion request is about. Each scenario uses fresh
// people (registered as members just before), since a deletion removes them.
type person struct {
	Name, Email, MemberID string
}

// req is one submitted request.
type req struct {
	person
	ID, Receipt, IdempotencyKey string
}

// newMembers registers n fresh members with the members holder and returns
// them; deletions about them complete with members DONE, the other holders
// NOT_FOUND, and one erasure event.
func newMembers(t *testing.T, n int) []person {
	t.Helper()
	tok := randomToken()
	var out []person
	for i := range n {
		p := person{Name: fmt.Sprintf("カオス 太郎%d", i+1), Email: fmt.Sprintf("chaos-%s-%d@example.jp", tok, i+1),
			MemberID: fmt.Sprintf("C-%s-%d", strings.ToUpper(tok), i+1)}
		exec(t, "members", "INSERT INTO members (member_id, name, email) VALUES ($1, $2, $3)", p.MemberID, p.Name, p.Email)
		out = append(out, p)
	}
	return out
}

// Seeded members whose records several holders keep (billing, marketing,
// partners, accesslog, support): each can be deleted once per test binary.
var (
	taro   = person{Name: "佐藤 太郎", Email: "taro@example.jp", MemberID: "M-1002"}
	ichiro = person{Name: "鈴木 一郎", Email: "ichiro@example.jp", MemberID: "M-1003"}
	emily  = person{Name: "Emily Clark", Email: "emily@example.com", MemberID: "M-1004"}
)

// seeded returns p if its member record still exists (not deleted by an
// earlier -count run on this stack); otherwise a fresh member.
func seeded(t *testing.T, p person) person {
	t.Helper()
	if countRows(t, "members", "SELECT count(*) FROM members WHERE member_id = $1", p.MemberID) == 1 {
		return p
	}
	return newMembers(t, 1)[0]
}

// submission is the deletion request a person files.
func submission(p person) intake.Submission {
	return intake.Submission{Kind: "deletion", Jurisdiction: "JP", Locale: "ja",
		Subject: intake.SubjectInput{Name: p.Name, Email: p.Email, MemberID: p.MemberID},
		Details: "退会したので全て削除してください"}
}

type accepted struct {
	ID      string `json:"id"`
	Receipt string `json:"receipt"`
}

// post sends the submission to the API as a client would; it retries
// while the intake is unreachable (restarting), as clients do with the same
// Idempotency-Key.
func post(ctx context.Context, p person, key string) (accepted, http.Header, error) {
	body, _ := json.Marshal(submission(p))
	var last error
	for ctx.Err() == nil {
		r, _ := http.NewRequestWithContext(ctx, http.MethodPost, stk.IntakeURL+"/api/v1/requests", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(r)
		if err == nil {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				var a accepted
				if err := json.Unmarshal(raw, &a); err != nil {
					return a, nil, fmt.Errorf("202 body %q: %w", raw, err)
				}
				return a, resp.Header, nil
			}
			if resp.StatusCode != http.StatusServiceUnavailable {
				return accepted{}, nil, fmt.Errorf("submit: %d %s", resp.StatusCode, raw)
			}
			err = fmt.Errorf("submit: %d %s", resp.StatusCode, raw)
		}
		last = err
		sleep(ctx, 200*time.Millisecond)
	}
	return accepted{}, nil, fmt.Errorf("submit: %w (last: %v)", ctx.Err(), last)
}

// submitAll files a deletion for each person through the API.
func submitAll(t *testing.T, people []person) []*req {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []*req
	for _, p := range people {
		key := "chaos-" + randomToken()
		a, _, err := post(ctx, p, key)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &req{person: p, ID: a.ID, Receipt: a.Receipt, IdempotencyKey: key})
	}
	return out
}

// each runs fn for every request at once and fails the test with every error.
func each(t *testing.T, timeout time.Duration, reqs []*req, fn func(ctx context.Context, r *req) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		wg.Go(func() {
			if err := fn(ctx, r); err != nil {
				errs[i] = fmt.Errorf("request %s: %w", r.Receipt, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

var codeRE = regexp.MustCompile(`確認コード：\s*(\d{6})`)

// verify enters the code e-mailed to the person.
func verify(ctx context.Context, r *req) error {
	msg, err := stk.Mail.WaitForMessage(ctx, r.Email, "本人確認コード")
	if err != nil {
		return fmt.Errorf("verification code mail: %w", err)
	}
	text, err := stk.Mail.MessageText(ctx, msg.ID)
	if err != nil {
		return err
	}
	m := codeRE.FindStringSubmatch(text)
	if m == nil {
		return errors.New("verification mail without a code")
	}
	var res dsrv1.VerifyIdentityResult
	if err := update(ctx, r, contract.UpdateVerifyIdentity, &dsrv1.VerifyIdentity{Code: m[1]}, &res); err != nil {
		return err
	}
	if res.GetOutcome() != dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED {
		return fmt.Errorf("verification: %v", &res)
	}
	return nil
}

// approve is staff approving the deletion.
func approve(ctx context.Context, r *req) error {
	var res dsrv1.ActionResult
	return update(ctx, r, contract.UpdateDecide, &dsrv1.Decide{Actor: "staff-chaos",
		Outcome: dsrv1.DecisionOutcome_DECISION_OUTCOME_APPROVE, Explanation: "退会済みのため削除します"}, &res)
}

// toStaffReview verifies the person and waits for the staff decision stage
// (the holders have been asked where the records are by then).
func toStaffReview(ctx context.Context, r *req) error {
	if err := verify(ctx, r); err != nil {
		return err
	}
	_, err := awaitStatus(ctx, r, "stage "+string(request.StageStaffReview), func(s *dsrv1.RequestStatus) bool {
		return s.GetStage() == string(request.StageStaffReview)
	})
	return err
}

// drive takes a request from submission to the staff's approval.
func drive(ctx context.Context, r *req) error {
	if err := toStaffReview(ctx, r); err != nil {
		return err
	}
	return approve(ctx, r)
}

// update sends a Temporal update, retrying while the workflow is not yet
// started or its worker is unreachable. A staff action is signed afresh
// for each attempt with the stack's staff signing key, as the staff side
// signs it.
func update(ctx context.Context, r *req, name string, arg, result any) error {
	for {
		if a, ok := arg.(staffsig.Action); ok {
			signer, err := staffsig.ParseSigningKey(stk.StaffSigningKey)
			if err != nil {
				return fmt.Errorf("staff signing key: %w", err)
			}
			if err := signer.Sign(contract.WorkflowID(r.Receipt), name, a.GetActor(), a); err != nil {
				return fmt.Errorf("sign %s: %w", name, err)
			}
		}
		uctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		h, err := temporal.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{WorkflowID: contract.WorkflowID(r.Receipt),
			UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			err = h.Get(uctx, result)
		}
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("update %s: %w", name, err)
		}
		sleep(ctx, 300*time.Millisecond)
	}
}

// status queries the request's current picture (nil while unavailable).
func status(ctx context.Context, r *req) *dsrv1.RequestStatus {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := temporal.QueryWorkflow(qctx, contract.WorkflowID(r.Receipt), "", contract.QueryStatus)
	if err != nil {
		return nil
	}
	var s dsrv1.RequestStatus
	if err := v.Get(&s); err != nil {
		return nil
	}
	return &s
}

// awaitStatus polls the status query until ok says so.
func awaitStatus(ctx context.Context, r *req, what string, ok func(*dsrv1.RequestStatus) bool) (*dsrv1.RequestStatus, error) {
	var last *dsrv1.RequestStatus
	for {
		if s := status(ctx, r); s != nil {
			if last = s; ok(s) {
				return s, nil
			}
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("never reached %s; last status: stage %q, holders %v, attention %v",
				what, last.GetStage(), last.GetHolders(), last.GetAttention())
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// holderStatus is one holder's line in the current fan-out.
func holderStatus(s *dsrv1.RequestStatus, name string) *dsrv1.HolderStatus {
	for _, h := range s.GetHolders() {
		if h.GetName() == name {
			return h
		}
	}
	return nil
}

// awaitOutcome waits for the request's workflow to end.
func awaitOutcome(ctx context.Context, r *req) (*request.Outcome, error) {
	var out request.Outcome
	if err := temporal.GetWorkflow(ctx, contract.WorkflowID(r.Receipt), "").Get(ctx, &out); err != nil {
		return nil, fmt.Errorf("workflow %s: %w", contract.WorkflowID(r.Receipt), err)
	}
	return &out, nil
}

// completeAll waits for every request to complete and checks each outcome.
func completeAll(t *testing.T, reqs []*req) {
	t.Helper()
	each(t, 3*time.Minute, reqs, func(ctx context.Context, r *req) error {
		out, err := awaitOutcome(ctx, r)
		if err != nil {
			return err
		}
		if out.Stage != request.StageCompleted {
			return fmt.Errorf("ended %s (%s), want completed", out.Stage, out.ClosedReason)
		}
		if got := out.HolderOutcomes["members"]; got != dsrv1.Outcome_OUTCOME_DONE.String() {
			return fmt.Errorf("members outcome %s, want DONE (outcomes %v)", got, out.HolderOutcomes)
		}
		for h, o := range out.HolderOutcomes {
			if o == dsrv1.Outcome_OUTCOME_FAILED.String() || o == dsrv1.Outcome_OUTCOME_UNSPECIFIED.String() {
				return fmt.Errorf("holder %s outcome %s", h, o)
			}
		}
		if out.ErasureEventID != r.ID+".erasure-completed" {
			return fmt.Errorf("erasure event id %q", out.ErasureEventID)
		}
		return nil
	})
}

// assertExactlyOnce checks the effects of completed deletions: one stored
// request and one sent announcement each, one workflow each, each holder's
// locate and erase carried out once, the member gone, one erasure event in
// the stream, and nothing of theirs dead-lettered except results that came
// after their workflow had finished (transport duplicates). It first lets
// every redelivery happen (see settle), so that a late duplicate cannot
// slip in after the checks.
func assertExactlyOnce(t *testing.T, reqs []*req) {
	t.Helper()
	settle(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	events := countByRequest(t, ctx, stk.Runtime.Namespace.StreamEvents(), stk.Runtime.Namespace.ErasureCompleted())
	dead := deadLetters(t, ctx)
	for _, r := range reqs {
		if n := countRows(t, "intake", "SELECT count(*) FROM requests WHERE id = $1", r.ID); n != 1 {
			t.Errorf("%s: stored requests = %d, want 1", r.Receipt, n)
		}
		if n := countRows(t, "intake", "SELECT count(*) FROM requests WHERE idempotency_key = $1", r.IdempotencyKey); n != 1 {
			t.Errorf("%s: requests stored for its Idempotency-Key = %d, want 1", r.Receipt, n)
		}
		if n := countRows(t, "intake", "SELECT count(*) FROM outbox WHERE request_id = $1", r.ID); n != 1 {
			t.Errorf("%s: outbox rows = %d, want 1", r.Receipt, n)
		}
		if n := countRows(t, "intake", "SELECT count(*) FROM outbox WHERE request_id = $1 AND sent_at IS NOT NULL", r.ID); n != 1 {
			t.Errorf("%s: outbox rows marked sent = %d, want 1", r.Receipt, n)
		}
		if n := workflowCount(t, ctx, r); n != 1 {
			t.Errorf("%s: workflows = %d, want exactly 1", r.Receipt, n)
		}
		for _, h := range stk.HolderNames() {
			for _, action := range []string{"locate", "erase"} {
				if n := countRows(t, h, "SELECT count(*) FROM holderkit_processed_commands WHERE request_id = $1 AND action = $2", r.ID, action); n != 1 {
					t.Errorf("%s: holder %s carried out %s %d times, want once", r.Receipt, h, action, n)
				}
			}
		}
		if n := countRows(t, "members", "SELECT count(*) FROM members WHERE member_id = $1", r.MemberID); n != 0 {
			t.Errorf("%s: member %s still has %d rows", r.Receipt, r.MemberID, n)
		}
		if n := events[r.ID]; n != 1 {
			t.Errorf("%s: erasure events in the stream = %d, want 1", r.Receipt, n)
		}
		for _, d := range dead[r.ID] {
			if d.source == "results" && strings.Contains(d.reason, "no running workflow") {
				continue // a late duplicate result: dead-lettered for staff to see, by design
			}
			t.Errorf("%s: dead-lettered by %s from %s: %s", r.Receipt, d.source, d.subject, d.reason)
		}
	}
}

// settle waits until every durable consumer of the stack has delivered
// everything and holds no unacknowledged message: an ack lost in a fault is
// redelivered only after the ack wait (30s), and that redelivery must have
// been handled before effects are counted.
func settle(t *testing.T) {
	t.Helper()
	ns := stk.Runtime.Namespace
	consumers := [][2]string{{ns.StreamRequests(), "dispatcher"}, {ns.StreamResults(), "results"}}
	for _, h := range stk.HolderNames() {
		consumers = append(consumers, [2]string{ns.StreamCommands(), "holder-" + h})
	}
	eventually(t, 2*time.Minute, "every consumer settles", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, c := range consumers {
			cons, err := js.Consumer(ctx, c[0], c[1])
			if err != nil {
				return false, fmt.Sprintf("%s: %v", c[1], err)
			}
			info, err := cons.Info(ctx)
			if err != nil {
				return false, fmt.Sprintf("%s: %v", c[1], err)
			}
			if info.NumPending > 0 || info.NumAckPending > 0 {
				return false, fmt.Sprintf("%s: %d pending, %d awaiting ack", c[1], info.NumPending, info.NumAckPending)
			}
		}
		return true, ""
	})
}

// workflowCount counts the request's workflow executions (any state) by its
// receipt search attribute, waiting for visibility to show at least one.
func workflowCount(t *testing.T, ctx context.Context, r *req) int64 {
	t.Helper()
	var n int64
	for {
		resp, err := temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: fmt.Sprintf("%s = '%s'", contract.SAReceipt, r.Receipt)})
		if err == nil {
			if n = resp.GetCount(); n >= 1 {
				return n
			}
		}
		if ctx.Err() != nil {
			return n
		}
		sleep(ctx, 200*time.Millisecond)
	}
}

// streamMessages reads every message still in a stream (subject "" = all).
func streamMessages(t *testing.T, ctx context.Context, stream, subject string) []*jetstream.RawStreamMsg {
	t.Helper()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	var out []*jetstream.RawStreamMsg
	if info.State.Msgs == 0 {
		return nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("stream %s message %d: %v", stream, seq, err)
		}
		if subject == "" || m.Subject == subject {
			out = append(out, m)
		}
	}
	return out
}

// countByRequest counts a stream's messages on subject per request id header.
func countByRequest(t *testing.T, ctx context.Context, stream, subject string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range streamMessages(t, ctx, stream, subject) {
		out[m.Header.Get(contract.HeaderRequestID)]++
	}
	return out
}

type deadLetter struct {
	source, subject, reason string
	header                  map[string][]string
	data                    []byte
}

// deadLetters lists the dead-letter stream by request id header ("" for
// messages without one).
func deadLetters(t *testing.T, ctx context.Context) map[string][]deadLetter {
	t.Helper()
	out := map[string][]deadLetter{}
	for _, m := range streamMessages(t, ctx, stk.Runtime.Namespace.StreamDeadLetter(), "") {
		out[m.Header.Get(contract.HeaderRequestID)] = append(out[m.Header.Get(contract.HeaderRequestID)], deadLetter{
			source: m.Header.Get(contract.HeaderDeadSource), subject: m.Header.Get(contract.HeaderDeadSubject),
			reason: m.Header.Get(contract.HeaderDeadReason), header: m.Header, data: m.Data})
	}
	return out
}

// countRows runs a count query on a component's database.
func countRows(t *testing.T, component, query string, args ...any) int {
	t.Helper()
	var n int
	withConn(t, component, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, query, args...).Scan(&n)
	})
	return n
}

// exec runs a statement on a component's database.
func exec(t *testing.T, component, stmt string, args ...any) {
	t.Helper()
	withConn(t, component, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, stmt, args...)
		return err
	})
}

func withConn(t *testing.T, component string, fn func(context.Context, *pgx.Conn) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, stk.Databases[component])
	if err != nil {
		t.Fatalf("%s database: %v", component, err)
	}
	defer c.Close(context.Background())
	if err := fn(ctx, c); err != nil {
		t.Fatalf("%s database: %v", component, err)
	}
}

// eventually polls cond until it holds, failing the test at the deadline
// with cond's last explanation.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (%s)", what, timeout, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// stop and start a component of the stack.
func stop(t *testing.T, name string) {
	t.Helper()
	if err := stk.StopComponent(name); err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T, name string) {
	t.Helper()
	if err := stk.StartComponent(name); err != nil {
		t.Fatal(err)
	}
}

// ensureRunningAfter makes sure a component stopped by a scenario runs again
// even when the scenario fails half-way, so later scenarios find a whole stack.
func ensureRunningAfter(t *testing.T, name string) {
	t.Cleanup(func() { _ = stk.StartComponent(name) })
}
