package members_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit"
	"madoguchi.dev/services/members"
	"madoguchi.dev/services/members/migrations"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// holder runs the members holder against its own seeded database and an
// embedded JetStream, and reads the results it reports.
type holder struct {
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	ns      contract.Namespace
	ring    *seal.Ring
	results jetstream.Consumer
}

func startHolder(t *testing.T) *holder {
	t.Helper()
	pool := testinfra.Pool(t, "t_members", migrations.FS)
	_, js, ns := testinfra.NATS(t)
	h := &holder{pool: pool, js: js, ns: ns, ring: testinfra.Ring(t)}
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	var err error
	h.results, err = js.CreateOrUpdateConsumer(ctx, ns.StreamResults(), jetstream.ConsumerConfig{
		Durable: "test-results", FilterSubject: ns.Result(members.Name), AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	hk := &holderkit.Holder{Name: members.Name, Namespace: ns, JS: js, Pool: pool, Ring: h.ring,
		Log: testinfra.Logger(t), Actions: members.Actions()}
	testinfra.Go(t, hk.Run)
	return h
}

func commandID(requestID string, attempt int32) string {
	return fmt.Sprintf("%s.%s.%d", requestID, members.Name, attempt)
}

// send publishes a HolderCommand for the members holder, its subject sealed.
func (h *holder) send(t *testing.T, requestID string, attempt int32, action dsrv1.Action, subject *dsrv1.Subject) string {
	t.Helper()
	sealed, err := h.ring.Message(subject)
	if err != nil {
		t.Fatal(err)
	}
	cmd := &dsrv1.HolderCommand{CommandId: commandID(requestID, attempt), RequestId: requestID,
		Receipt: "20261125-" + strings.ToUpper(requestID[:6]), Holder: members.Name, Action: action, Attempt: attempt,
		IssuedAt: timestamppb.Now(), Subject: sealed}
	h.publish(t, h.ns.Command(members.Name, contract.ActionName(action)), cmd)
	return cmd.CommandId
}

func (h *holder) publish(t *testing.T, subject string, cmd *dsrv1.HolderCommand) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	if _, err := bus.Publish(ctx, h.js, subject, cmd.GetCommandId(), cmd.GetRequestId(), cmd); err != nil {
		t.Fatal(err)
	}
}

// result waits for the next HolderResult and checks its envelope.
func (h *holder) result(t *testing.T) *dsrv1.HolderResult {
	t.Helper()
	msg, err := h.results.Next(jetstream.FetchMaxWait(testinfra.Timeout))
	if err != nil {
		t.Fatalf("no holder result: %v", err)
	}
	if err := msg.Ack(); err != nil {
		t.Fatal(err)
	}
	var res dsrv1.HolderResult
	if err := bus.Decode(msg, &res); err != nil {
		t.Fatal(err)
	}
	if got := msg.Headers().Get(nats.MsgIdHdr); got != res.GetCommandId()+".result" {
		t.Errorf("result Nats-Msg-Id = %q, want %q", got, res.GetCommandId()+".result")
	}
	if got := msg.Headers().Get(contract.HeaderRequestID); got != res.GetRequestId() {
		t.Errorf("result request id header = %q", got)
	}
	return &res
}

func (h *holder) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (h *holder) memberCount(t *testing.T, id string) int {
	t.Helper()
	return h.count(t, "SELECT count(*) FROM members WHERE member_id = $1", id)
}

func wantResult(t *testing.T, res *dsrv1.HolderResult, cmdID string, action dsrv1.Action, outcome dsrv1.Outcome, records int32, replayed bool) {
	t.Helper()
	if res.GetCommandId() != cmdID || res.GetHolder() != members.Name || res.GetAction() != action ||
		res.GetOutcome() != outcome || res.GetRecordsAffected() != records || res.GetReplayed() != replayed {
		t.Errorf("result = %v;\nwant command %s action %v outcome %v records %d replayed %v", res, cmdID, action, outcome, records, replayed)
	}
	if res.GetCompletedAt() == nil || res.GetRequestId() == "" || res.GetReceipt() == "" {
		t.Errorf("result lacks completed_at, request id or receipt: %v", res)
	}
}

var hanako = &dsrv1.Subject{Name: "山田 花子", Email: "hanako@example.jp", MemberId: "M-1001"}

func TestEraseDeletesTheMembersRecordsAndReportsDone(t *testing.T) {
	t.Parallel()
	h := startHolder(t)
	cmd := h.send(t, "req-erase-0001", 1, dsrv1.Action_ACTION_ERASE, hanako)
	res := h.result(t)
	wantResult(t, res, cmd, dsrv1.Action_ACTION_ERASE, dsrv1.Outcome_OUTCOME_DONE, 1, false)
	if res.GetRequestId() != "req-erase-0001" || res.GetReceipt() != "20261125-REQ-ER" {
		t.Errorf("result names request %q receipt %q", res.GetRequestId(), res.GetReceipt())
	}
	if n := h.memberCount(t, "M-1001"); n != 0 {
		t.Errorf("M-1001 still has %d member rows", n)
	}
	if n := h.count(t, "SELECT count(*) FROM member_facilities WHERE member_id = 'M-1001'"); n != 0 {
		t.Errorf("M-1001 still has %d facility rows", n)
	}
	if n := h.count(t, "SELECT count(*) FROM members"); n != 3 {
		t.Errorf("%d members left, want the 3 others untouched", n)
	}
	if n := h.count(t, "SELECT count(*) FROM member_facilities WHERE member_id = 'M-1002'"); n != 1 {
		t.Errorf("another member's facility rows changed: %d", n)
	}
	if n := h.count(t, "SELECT count(*) FROM holderkit_processed_commands WHERE request_id = 'req-erase-0001' AND action = 'erase' AND command_id = $1", cmd); n != 1 {
		t.Errorf("%d processed-command rows, want 1", n)
	}
}

func TestEraseByEmailAloneFindsTheMemberWhateverTheCase(t *testing.T) {
	t.Parallel()
	h := startHolder(t)
	cmd := h.send(t, "req-erase-mail", 1, dsrv1.Action_ACTION_ERASE, &dsrv1.Subject{Email: "Taro@Example.JP"})
	wantResult(t, h.result(t), cmd, dsrv1.Action_ACTION_ERASE, dsrv1.Outcome_OUTCOME_DONE, 1, false)
	if n := h.memberCount(t, "M-1002"); n != 0 {
		t.Error("M-1002 (taro@example.jp) was not erased")
	}
	if n := h.count(t, "SELECT count(*) FROM members"); n != 3 {
		t.Errorf("%d members left, want 3", n)
	}
}

func TestAResentCommandIsAnsweredFromTheRecordAndNotCarriedOutAgain(t *testing.T) {
	t.Parallel()
	h := startHolder(t)
	first := h.send(t, "req-replay-01", 1, dsrv1.Action_ACTION_ERASE, hanako)
	r1 := h.result(t)
	wantResult(t, r1, first, dsrv1.Action_ACTION_ERASE, dsrv1.Outcome_OUTCOME_DONE, 1, false)

	// The member registers again under the same number. A second attempt of
	// the old request must not erase the new registration.
	if _, err := h.pool.Exec(context.Background(),
		"INSERT INTO members (member_id, name, email) VALUES ('M-1001', '再登録 花子', 'hanako@example.jp')"); err != nil {
		t.Fatal(err)
	}
	second := h.send(t, "req-replay-01", 2, dsrv1.Action_ACTION_ERASE, hanako)
	r2 := h.result(t)
	wantResult(t, r2, second, dsrv1.Action_ACTION_ERASE, dsrv1.Outcome_OUTCOME_DONE, 1, true)
	if !r2.GetCompletedAt().AsTime().Equal(r1.GetCompletedAt().AsTime()) {
		t.Errorf("replayed result completed at %v, the original at %v", r2.GetCompletedAt().AsTime(), r1.GetCompletedAt().AsTime())
	}
	if n := h.memberCount(t, "M-1001"); n != 1 {
		t.Error("the handler ran a second time: the re-registered member was erased")
	}
	if n := h.count(t, "SELECT count(*) FROM holderkit_processed_commands"); n != 1 {
		t.Errorf("%d processed-command rows, want 1", n)
	}
	var recorded string
	if err := h.pool.QueryRow(context.Background(), "SELECT command_id FROM holderkit_processed_commands").Scan(&recorded); err != nil || recorded != first {
		t.Errorf("recorded command %q (%v), want the first attempt %q", recorded, err, first)
	}

	// Another action of the same request is a new command.
	exp := h.send(t, "req-replay-01", 3, dsrv1.Action_ACTION_EXPORT, hanako)
	wantResult(t, h.result(t), exp, dsrv1.Action_ACTION_EXPORT, dsrv1.Outcome_OUTCOME_DONE, 1, false)
}

func TestUndecodableCommandsAreDeadLetteredAndTheHolderKeepsWorking(t *testing.T) {
	t.Parallel()
	h := startHolder(t)
	ctx, cancel := context.WithTimeout(context.Background(), testinfra.Timeout)
	defer cancel()
	eraseSubject := h.ns.Command(members.Name, "erase")

	garbage := nats.NewMsg(eraseSubject)
	garbage.Data = []byte("this is not protobuf")
	if _, err := h.js.PublishMsg(ctx, garbage, jetstream.WithMsgID("garbage-1")); err != nil {
		t.Fatal(err)
	}
	otherRing := testinfra.Ring(t)
	foreign, err := otherRing.Message(hanako)
	if err != nil {
		t.Fatal(err)
	}
	h.publish(t, eraseSubject, &dsrv1.HolderCommand{CommandId: "req-foreign.members.1", RequestId: "req-foreign",
		Holder: members.Name, Action: dsrv1.Action_ACTION_ERASE, Subject: foreign})
	h.publish(t, eraseSubject, &dsrv1.HolderCommand{CommandId: "req-billing.billing.1", RequestId: "req-billing",
		Holder: "billing", Action: dsrv1.Action_ACTION_ERASE})
	h.publish(t, eraseSubject, &dsrv1.HolderCommand{CommandId: "req-noaction.members.1", RequestId: "req-noaction", Holder: members.Name})

	cmd := h.send(t, "req-after-poison", 1, dsrv1.Action_ACTION_ERASE, hanako)
	wantResult(t, h.result(t), cmd, dsrv1.Action_ACTION_ERASE, dsrv1.Outcome_OUTCOME_DONE, 1, false)

	// The holder works on several commands at once: the dead letters may
	// be published after the valid command's result, and in any order.
	dlSubject := h.ns.DeadLetter("holder-" + members.Name)
	for n := uint64(0); n != 4; n = testinfra.SubjectCount(t, h.js, h.ns.StreamDeadLetter(), dlSubject) {
		if n > 4 || ctx.Err() != nil {
			t.Fatalf("%d dead letters on %s, want 4", n, dlSubject)
		}
		time.Sleep(20 * time.Millisecond)
	}
	oc, err := h.js.OrderedConsumer(ctx, h.ns.StreamDeadLetter(), jetstream.OrderedConsumerConfig{FilterSubjects: []string{dlSubject}})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for i := 0; i < 4; i++ {
		m, err := oc.Next(jetstream.FetchMaxWait(testinfra.Timeout))
		if err != nil {
			t.Fatal(err)
		}
		reasons = append(reasons, m.Headers().Get(contract.HeaderDeadReason))
		if got := m.Headers().Get(contract.HeaderDeadSubject); got != eraseSubject {
			t.Errorf("dead letter %d original subject %q", i, got)
		}
	}
	for _, want := range []string{"undecodable", "subject envelope", `command for holder "billing"`, "lacks request_id, command_id or action"} {
		found := 0
		for _, got := range reasons {
			if strings.Contains(got, want) {
				found++
			}
		}
		if found != 1 {
			t.Errorf("%d dead letters mention %q, want one; reasons %q", found, want, reasons)
		}
	}
	if n := h.count(t, "SELECT count(*) FROM holderkit_processed_commands"); n != 1 {
		t.Errorf("%d processed commands, want only the valid one", n)
	}
}

func TestExportReturnsTheMembersRecordsSealed(t *testing.T) {
	t.Parallel()
	h := startHolder(t)
	cmd := h.send(t, "req-export-01", 1, dsrv1.Action_ACTION_EXPORT, hanako)
	res := h.result(t)
	wantResult(t, res, cmd, dsrv1.Action_ACTION_EXPORT, dsrv1.Outcome_OUTCOME_DONE, 1, false)
	wire, err := proto.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hanako@example.jp", "山田", "ケアスマイリー", "下関市"} {
		if strings.Contains(string(wire), secret) {
			t.Errorf("result holds %q in the clear", secret)
		}
	}
	var exp dsrv1.Export
	if err := h.ring.OpenMessageFor(res.GetExport(), &exp, contract.ExportScope(res.GetRequestId(), res.GetHolder())); err != nil {
		t.Fatalf("export does not open: %v", err)
	}
	if exp.GetHolder() != members.Name {
		t.Errorf("export holder %q", exp.GetHolder())
	}
	// Bound to its request and holder: moved to another request, or passed
	// off as another holder's, it does not open.
	for _, scope := range []string{contract.ExportScope("another-request", members.Name), contract.ExportScope(res.GetRequestId(), "billing")} {
		var moved dsrv1.Export
		if err := h.ring.OpenMessageFor(res.GetExport(), &moved, scope); err == nil {
			t.Errorf("the export opened for scope %q", scope)
		}
	}
	var doc []struct {
		MemberID   string `json:"member_id"`
		Name       string
		Email      string
		CareLevel  string `json:"care_level"`
		Facilities []struct{ Facility, Since string }
	}
	if err := json.Unmarshal(exp.GetJson(), &doc); err != nil {
		t.Fatalf("export JSON: %v\n%s", err, exp.GetJson())
	}
	if len(doc) != 1 || doc[0].MemberID != "M-1001" || doc[0].Email != "hanako@example.jp" || doc[0].Name != "山田 花子" || doc[0].CareLevel != "要介護2" {
		t.Fatalf("export = %s", exp.GetJson())
	}
	facilities := map[string]string{}
	for _, f := range doc[0].Facilities {
		facilities[f.Facility] = f.Since
	}
	if len(facilities) != 2 || facilities["ケアスマイリー豊北"] != "2021-04-01" || facilities["デイサービスかんだ"] != "2023-10-01" {
		t.Errorf("exported facilities = %v", doc[0].Facilities)
	}
	if n := h.memberCount(t, "M-1001"); n != 1 {
		t.Error("export removed the member")
	}
}

func TestUnknownMemberIsReportedNotFound(t *testing.T) {
	t.Parallel()
	h := startHolder(t)
	for i, action := range []dsrv1.Action{dsrv1.Action_ACTION_ERASE, dsrv1.Action_ACTION_EXPORT} {
		cmd := h.send(t, fmt.Sprintf("req-unknown-%d", i), 1, action, &dsrv1.Subject{MemberId: "M-9999", Email: "nobody@example.jp"})
		res := h.result(t)
		wantResult(t, res, cmd, action, dsrv1.Outcome_OUTCOME_NOT_FOUND, 0, false)
		if res.GetExport() != nil {
			t.Error("a not-found result carries an export")
		}
	}
	if n := h.count(t, "SELECT count(*) FROM members"); n != 4 {
		t.Errorf("%d members, want all 4 untouched", n)
	}
}

// unsupportedAction is an action the members holder does not implement.
func unsupportedAction(t *testing.T) dsrv1.Action {
	t.Helper()
	supported := members.Actions()
	for v := int32(1); ; v++ {
		a := dsrv1.Action(v)
		if _, known := dsrv1.Action_name[v]; !known {
			t.Skip("the members holder implements every action")
		}
		if _, ok := supported[a]; !ok {
			return a
		}
	}
}

func TestUnsupportedActionIsReportedFailedNotRetryable(t *testing.T) {
	t.Parallel()
	action := unsupportedAction(t)
	h := startHolder(t)
	cmd := h.send(t, "req-unsupported-1", 1, action, hanako)
	res := h.result(t)
	wantResult(t, res, cmd, action, dsrv1.Outcome_OUTCOME_FAILED, 0, false)
	if res.GetRetryable() || !strings.Contains(res.GetReason(), "not supported") {
		t.Errorf("retryable %v, reason %q", res.GetRetryable(), res.GetReason())
	}
	if n := h.memberCount(t, "M-1001"); n != 1 {
		t.Error("an unsupported action changed the member's data")
	}
}

// A command from a workflow recorded before the binding rule carries no
// binding: it covers the subject's e-mail address only, so one member's
// number with another member's address exports neither.
func TestACommandWithoutABindingCoversOnlyTheSubjectsAddress(t *testing.T) {
	t.Parallel()
	h := startHolder(t)
	cmd := h.send(t, "req-mixed-ids", 1, dsrv1.Action_ACTION_EXPORT, &dsrv1.Subject{MemberId: "M-1001", Email: "taro@example.jp"})
	res := h.result(t)
	wantResult(t, res, cmd, dsrv1.Action_ACTION_EXPORT, dsrv1.Outcome_OUTCOME_NOT_FOUND, 0, false)
	if res.GetExport() != nil {
		t.Errorf("an unbound command exported %d sealed bytes", len(res.GetExport().GetCiphertext()))
	}
	cmd = h.send(t, "req-own-id", 1, dsrv1.Action_ACTION_EXPORT, &dsrv1.Subject{MemberId: "M-1001", Email: "hanako@example.jp"})
	res = h.result(t)
	wantResult(t, res, cmd, dsrv1.Action_ACTION_EXPORT, dsrv1.Outcome_OUTCOME_DONE, 1, false)
	var exp dsrv1.Export
	if err := h.ring.OpenMessageFor(res.GetExport(), &exp, contract.ExportScope(res.GetRequestId(), res.GetHolder())); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(exp.GetJson()), "M-1002") {
		t.Errorf("export for M-1001 discloses M-1002: %s", exp.GetJson())
	}
	cmd = h.send(t, "req-mixed-ids", 2, dsrv1.Action_ACTION_ERASE, &dsrv1.Subject{MemberId: "M-1001", Email: "taro@example.jp"})
	wantResult(t, h.result(t), cmd, dsrv1.Action_ACTION_ERASE, dsrv1.Outcome_OUTCOME_NOT_FOUND, 0, false)
	if h.memberCount(t, "M-1001") != 1 || h.memberCount(t, "M-1002") != 1 {
		t.Error("an unbound erase with one member's number and another's address erased a member")
	}
}
