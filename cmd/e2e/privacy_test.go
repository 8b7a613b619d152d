package e2e

// The privacy scan: one request with a recognisable identity travels the
// whole path (API → verification by mailed code → staff decision → every
// holder → completion and erasure event), and then every place an operator,
// a log pipeline or another service can read is searched for that identity:
//
//   - the components' log (the zerolog file the stack writes) and the
//     Temporal server's log,
//   - every metric and label in the process registry (and /metrics on the
//     intake, if it serves one),
//   - every NATS message published while the request ran (a core
//     subscription on ">" sees work-queue messages that are gone once acked:
//     subject, reply, headers and body), and every message still stored in
//     the namespace's streams,
//   - Temporal as the server stores it, read by a client without the payload
//     codec: every history event of every workflow, the executions' memo and
//     search attributes (DescribeWorkflowExecution, ListWorkflowExecutions),
//   - the intake database (every column of every row of every table, as raw
//     bytes) and each holder's holderkit_processed_commands.
//
// Sealed envelopes and encrypted payloads are ciphertext and pass. The mail
// catcher is expected to hold the identity (the person's own mail) and is
// not scanned. A leak fails the test naming the place and the field seen
// (the identity is a canary, so printing it is fine).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/proto"

	"madoguchi.dev/platform/metrics"
	"madoguchi.dev/platform/natsauth"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/workflows/request"
)

// privacyCanary is a fictional person whose every identifier is unique to
// this run, so that any occurrence outside sealed data is a leak.
type privacyCanary struct {
	Name, NameKana, Email, Phone, MemberID, Address, Details string
	needles                                                  []privacyNeedle
}

type privacyNeedle struct {
	what string // which identifier and which spelling
	b    []byte
}

func newPrivacyCanary() *privacyCanary {
	tok := randomToken() // 8 hex digits
	digits := fmt.Sprintf("%04d", (int(tok[0])*131+int(tok[1])*17+int(tok[2]))%10000)
	c := &privacyCanary{
		Name:     "漏洩 検知子",
		NameKana: "ロウエイ ケンチコ",
		Email:    "leak-canary-" + tok + "@example.jp",
		Phone:    "090-9999-" + digits,
		MemberID: "LC-" + strings.ToUpper(tok),
		Address:  "検知県漏洩市カナリア町" + tok,
		Details:  "漏洩 検知子の全データを削除してください。備考カナリア" + tok,
	}
	add := func(what string, spellings ...string) {
		for _, s := range spellings {
			c.needles = append(c.needles, privacyNeedle{what + " " + fmt.Sprintf("%q", s), []byte(s)})
		}
	}
	jsonEscaped := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			if r < 0x80 {
				b.WriteRune(r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		}
		return b.String()
	}
	b64 := base64.StdEncoding.EncodeToString
	add("name", c.Name, "漏洩検知子", "検知子", jsonEscaped(c.Name), jsonEscaped("検知子"), url.QueryEscape(c.Name),
		b64([]byte(c.Name)), hex.EncodeToString([]byte("検知子")))
	add("name kana", c.NameKana, "ケンチコ", jsonEscaped("ケンチコ"))
	local := strings.TrimSuffix(c.Email, "@example.jp")
	add("e-mail", c.Email, local, strings.ToUpper(local), b64([]byte(c.Email)), hex.EncodeToString([]byte(local)))
	add("phone", c.Phone, "0909999"+digits, "+81909999"+digits, "+81-90-9999-"+digits, "90-9999-"+digits)
	add("member id", c.MemberID, strings.ToLower(c.MemberID))
	add("address", c.Address, "カナリア町"+tok)
	add("free text", "備考カナリア"+tok)
	return c
}

// privacyLeak is one finding.
type privacyLeak struct{ where, what, excerpt string }

// privacyScanner collects findings, one per (place, identifier spelling).
type privacyScanner struct {
	c      *privacyCanary
	mu     sync.Mutex
	leaks  []privacyLeak
	seen   map[string]bool
	bytesN map[string]int // bytes scanned per source
}

func (s *privacyScanner) scan(source, where string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytesN[source] += len(data)
	for _, n := range s.c.needles {
		i := bytes.Index(data, n.b)
		if i < 0 {
			continue
		}
		key := where + "|" + n.what
		if s.seen[key] {
			continue
		}
		s.seen[key] = true
		lo, hi := max(0, i-100), min(len(data), i+len(n.b)+100)
		s.leaks = append(s.leaks, privacyLeak{where: where, what: n.what, excerpt: fmt.Sprintf("%q", data[lo:hi])})
	}
}

func (s *privacyScanner) scanString(source, where, v string) { s.scan(source, where, []byte(v)) }

// privacyTap records every message the NATS server routes while the request
// runs, including work-queue commands and results that are deleted once
// acknowledged.
type privacyTap struct {
	mu   sync.Mutex
	msgs []*nats.Msg
	sub  *nats.Subscription
}

func TestPrivacyNoPersonalDataOutsideSealedPayloads(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := newPrivacyCanary()
	sc := &privacyScanner{c: c, seen: map[string]bool{}, bytesN: map[string]int{}}

	// The scanner finds what it looks for (a scan that can never fail is no test).
	probe := &privacyScanner{c: c, seen: map[string]bool{}, bytesN: map[string]int{}}
	probe.scanString("probe", "probe", `{"level":"info","email":"`+c.Email+`","name":"`+c.Name+`","phone":"`+c.Phone+`"}`)
	if len(probe.leaks) < 3 {
		t.Fatalf("scanner self-check found %d of 3 planted identifiers", len(probe.leaks))
	}

	// A member record for the canary, so that a holder really finds, reads
	// and erases personal data (and could log it).
	privacySeedMember(ctx, t, c)

	// Tap every message routed by the server from now on.
	nc, err := stk.ConnectNATS(natsauth.Admin, nats.Name("privacy-tap")) // the admin sees every subject
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	tap := &privacyTap{}
	tap.sub, err = nc.Subscribe(">", func(m *nats.Msg) {
		tap.mu.Lock()
		tap.msgs = append(tap.msgs, m)
		tap.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = tap.sub.SetPendingLimits(-1, -1)
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// The request, through the public API.
	body := fmt.Sprintf(`{"kind":"deletion","jurisdiction":"JP","locale":"ja","subject":{"name":%q,"name_kana":%q,"email":%q,"phone":%q,"member_id":%q},"details":%q}`,
		c.Name, c.NameKana, c.Email, c.Phone, c.MemberID, c.Details)
	code, acc, _ := submit(t, body, "privacy-"+randomToken())
	if code != http.StatusAccepted || acc.Receipt == "" {
		t.Fatalf("submit = %d %+v, want 202", code, acc)
	}
	privacyDrive(ctx, t, acc.Receipt, c)

	var out request.Outcome
	if err := temporal.GetWorkflow(ctx, contract.WorkflowID(acc.Receipt), "").Get(ctx, &out); err != nil {
		t.Fatalf("workflow %s: %v", contract.WorkflowID(acc.Receipt), err)
	}
	if out.Stage != request.StageCompleted || out.HolderOutcomes["members"] != dsrv1.Outcome_OUTCOME_DONE.String() {
		t.Errorf("outcome = %+v, want completed with members done (the canary member erased)", out)
	}
	// Let the last acks, log lines and the erasure event settle.
	time.Sleep(2 * time.Second)
	if err := tap.sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if n, _ := tap.sub.Dropped(); n > 0 {
		t.Errorf("the NATS tap dropped %d messages: the scan is incomplete", n)
	}

	privacyScanNATSTap(t, sc, tap, acc.ID)
	privacyScanStreams(ctx, t, sc)
	privacyScanTemporal(ctx, t, sc, acc.Receipt)
	privacyScanDatabases(ctx, t, sc)
	privacyScanMetrics(ctx, t, sc)
	privacyScanLogs(t, sc, acc.Receipt)

	var sources []string
	for s, n := range sc.bytesN {
		sources = append(sources, fmt.Sprintf("%s %d B", s, n))
	}
	sort.Strings(sources)
	t.Logf("scanned: %s", strings.Join(sources, ", "))
	for _, l := range sc.leaks {
		t.Errorf("LEAK of %s in %s: …%s…", l.what, l.where, l.excerpt)
	}
}

// privacySeedMember inserts the canary into the members holder's database
// (the holder migrates its tables at start-up; wait for them).
func privacySeedMember(ctx context.Context, t *testing.T, c *privacyCanary) {
	t.Helper()
	conn, err := pgx.Connect(ctx, stk.Databases["members"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = conn.Exec(ctx, `INSERT INTO members (member_id, name, name_kana, email, phone, address) VALUES ($1, $2, $3, $4, $5, $6)`,
			c.MemberID, c.Name, c.NameKana, c.Email, c.Phone, c.Address)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("seed canary member: %v", err)
	}
}

// privacyDrive enters the code e-mailed to the canary, then answers what
// the request waits for until it completes (driveUntilCompleted).
func privacyDrive(ctx context.Context, t *testing.T, receipt string, c *privacyCanary) {
	t.Helper()
	code := codeFromMail(ctx, t, c.Email)
	var verified dsrv1.VerifyIdentityResult
	update(ctx, t, receipt, contract.UpdateVerifyIdentity, &dsrv1.VerifyIdentity{Code: code}, &verified)
	if verified.GetOutcome() != dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED {
		t.Fatalf("verification = %v", &verified)
	}
	driveUntilCompleted(ctx, t, receipt)
}

func privacyScanNATSTap(t *testing.T, sc *privacyScanner, tap *privacyTap, requestID string) {
	t.Helper()
	tap.mu.Lock()
	msgs := tap.msgs
	tap.mu.Unlock()
	ns := stk.Runtime.Namespace
	ours := map[string]int{} // our namespace's subjects seen for this request
	for _, m := range msgs {
		where := "NATS message on " + m.Subject
		sc.scanString("nats-tap", where+" (subject)", m.Subject)
		sc.scanString("nats-tap", where+" (reply subject)", m.Reply)
		for k, vs := range m.Header {
			sc.scanString("nats-tap", where+" (header name)", k)
			for _, v := range vs {
				sc.scanString("nats-tap", where+" (header "+k+")", v)
			}
		}
		sc.scan("nats-tap", where+" (body)", m.Data)
		if strings.HasPrefix(m.Subject, ns.Root+".") && m.Header.Get(contract.HeaderRequestID) == requestID {
			ours[strings.SplitN(strings.TrimPrefix(m.Subject, ns.Root+"."), ".", 2)[0]]++
		}
	}
	// The tap saw the request's own traffic: submitted, commands, results.
	for _, kind := range []string{"requests", "commands", "results", "events"} {
		if ours[kind] == 0 {
			t.Errorf("the NATS tap saw no %s.%s.* message for the request: the scan missed its traffic (seen %v of %d messages)", ns.Root, kind, ours, len(msgs))
		}
	}
}

// privacyScanStreams reads every message still stored in the namespace's
// streams (the object store of disclosure packages included).
func privacyScanStreams(ctx context.Context, t *testing.T, sc *privacyScanner) {
	t.Helper()
	nc, err := stk.ConnectNATS(natsauth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	prefix := stk.Runtime.Namespace.StreamPrefix
	streams := 0
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		if !strings.HasPrefix(name, prefix+"_") && !strings.Contains(name, "_"+prefix+"_") {
			continue
		}
		streams++
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Errorf("stream %s: %v", name, err)
			continue
		}
		st := s.CachedInfo().State
		for seq := st.FirstSeq; seq > 0 && seq <= st.LastSeq; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				continue // deleted (work queue) or purged
			}
			where := fmt.Sprintf("stream %s seq %d (%s)", name, seq, m.Subject)
			sc.scanString("streams", where+" subject", m.Subject)
			for k, vs := range m.Header {
				for _, v := range vs {
					sc.scanString("streams", where+" header "+k, k+": "+v)
				}
			}
			sc.scan("streams", where+" body", m.Data)
		}
	}
	if err := names.Err(); err != nil {
		t.Errorf("list streams: %v", err)
	}
	if streams < 5 {
		t.Errorf("found %d streams with prefix %s, want the contract's five at least", streams, prefix)
	}
}

// privacyScanTemporal reads Temporal as stored, with a client that has no
// payload codec: every history event of every execution in the namespace,
// and every execution's memo and search attributes.
func privacyScanTemporal(ctx context.Context, t *testing.T, sc *privacyScanner, receipt string) {
	t.Helper()
	raw, err := client.Dial(client.Options{HostPort: stk.Temporal.HostPort, Namespace: stk.Temporal.Namespace,
		Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		t.Fatalf("temporal client without codec: %v", err)
	}
	defer raw.Close()
	svc := raw.WorkflowService()
	nsName := stk.Temporal.Namespace

	var execs []*commonpb.WorkflowExecution
	var token []byte
	for {
		resp, err := svc.ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: nsName, PageSize: 500, NextPageToken: token})
		if err != nil {
			t.Fatalf("list workflows: %v", err)
		}
		for _, e := range resp.GetExecutions() {
			where := "Temporal workflow list entry " + e.GetExecution().GetWorkflowId()
			b, _ := proto.Marshal(e)
			sc.scan("temporal", where, b)
			for k, p := range e.GetMemo().GetFields() {
				sc.scan("temporal", where+" memo "+k, p.GetData())
			}
			for k, p := range e.GetSearchAttributes().GetIndexedFields() {
				sc.scan("temporal", where+" search attribute "+k, p.GetData())
			}
			execs = append(execs, e.GetExecution())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	ourEvents := 0
	for _, ex := range execs {
		id := ex.GetWorkflowId()
		d, err := svc.DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{Namespace: nsName, Execution: ex})
		if err != nil {
			t.Errorf("describe %s: %v", id, err)
		} else {
			info := d.GetWorkflowExecutionInfo()
			for k, p := range info.GetMemo().GetFields() {
				sc.scan("temporal", "Temporal memo "+k+" of "+id, p.GetData())
			}
			for k, p := range info.GetSearchAttributes().GetIndexedFields() {
				sc.scan("temporal", "Temporal search attribute "+k+" of "+id, p.GetData())
			}
			b, _ := proto.Marshal(d)
			sc.scan("temporal", "Temporal DescribeWorkflowExecution of "+id, b)
		}
		var page []byte
		for {
			h, err := svc.GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
				Namespace: nsName, Execution: ex, MaximumPageSize: 1000, NextPageToken: page})
			if err != nil {
				t.Errorf("history of %s: %v", id, err)
				break
			}
			for _, ev := range h.GetHistory().GetEvents() {
				b, _ := proto.Marshal(ev)
				sc.scan("temporal", fmt.Sprintf("Temporal history of %s event %d (%s)", id, ev.GetEventId(), ev.GetEventType()), b)
				if id == contract.WorkflowID(receipt) {
					ourEvents++
				}
			}
			if page = h.GetNextPageToken(); len(page) == 0 {
				break
			}
		}
	}
	if ourEvents == 0 {
		t.Errorf("no history events read for %s (of %d executions): the Temporal scan missed the request", contract.WorkflowID(receipt), len(execs))
	}
}

// privacyScanDatabases reads every column of every row of every table in the
// intake database as raw bytes, and each holder's record of processed
// commands (the results it reported).
func privacyScanDatabases(ctx context.Context, t *testing.T, sc *privacyScanner) {
	t.Helper()
	scanTable := func(component, dsn, table string) int {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, "SELECT * FROM "+pgx.Identifier{table}.Sanitize())
		if err != nil {
			t.Errorf("%s: read %s: %v", component, table, err)
			return 0
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
			fields := rows.FieldDescriptions()
			for i, v := range rows.RawValues() {
				sc.scan("databases", fmt.Sprintf("%s database, table %s row %d column %s", component, table, n, fields[i].Name), v)
			}
		}
		if err := rows.Err(); err != nil {
			t.Errorf("%s: read %s: %v", component, table, err)
		}
		return n
	}

	conn, err := pgx.Connect(ctx, stk.Databases["intake"])
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	requests := 0
	for _, table := range tables {
		n := scanTable("intake", stk.Databases["intake"], table)
		if table == "requests" {
			requests = n
		}
	}
	if requests == 0 {
		t.Errorf("intake tables %v: no rows in requests read", tables)
	}
	for _, name := range stk.HolderNames() {
		scanTable("holder "+name, stk.Databases[name], "holderkit_processed_commands")
	}
}

// privacyScanMetrics reads every metric, label name and label value in the
// process registry (every component of the stack registers there) in the
// exposition format, and /metrics on the intake when it serves one.
func privacyScanMetrics(ctx context.Context, t *testing.T, sc *privacyScanner) {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Errorf("gather metrics: %v", err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				sc.scanString("metrics", fmt.Sprintf("metric %s label %s", f.GetName(), l.GetName()), l.GetName()+"="+l.GetValue())
			}
		}
	}
	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	sc.scan("metrics", "/metrics exposition of the process registry", rec.Body.Bytes())

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, stk.IntakeURL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET intake /metrics: %v", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Logf("the intake serves no /metrics (%d); scanned the process registry it would expose", resp.StatusCode)
		return
	}
	sc.scan("metrics", "intake GET /metrics", b)
}

// privacyScanLogs reads the components' log (components.log, written by
// TestMain's stack) and the Temporal server's log beside it.
func privacyScanLogs(t *testing.T, sc *privacyScanner, receipt string) {
	t.Helper()
	path := privacyComponentLog()
	if path == "" {
		t.Errorf("components.log of this test binary not found (neither open in /proc/self/fd nor under %s/madoguchi-e2e-*)", os.TempDir())
		return
	}
	mentions := 0
	for _, p := range []string{path, filepath.Join(filepath.Dir(path), "temporal.log")} {
		f, err := os.Open(p)
		if err != nil {
			if p == path {
				t.Errorf("open %s: %v", p, err)
			}
			continue
		}
		r := bufio.NewReaderSize(f, 1<<20)
		n := 1
		for ; ; n++ {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				sc.scan("logs", fmt.Sprintf("%s line %d", filepath.Base(p), n), line)
				if p == path && bytes.Contains(line, []byte(receipt)) {
					mentions++
				}
			}
			if err != nil {
				break
			}
		}
		f.Close()
		t.Logf("scanned %s (%d lines)", p, n-1)
	}
	if mentions == 0 {
		t.Errorf("%s never mentions receipt %s: is it this stack's log?", path, receipt)
	}
}

// privacyComponentLog finds components.log: TestMain keeps it open, so it
// is among this process's file descriptors; otherwise the newest
// madoguchi-e2e-* directory holds it.
func privacyComponentLog() string {
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil &&
				filepath.Base(target) == "components.log" && strings.HasPrefix(filepath.Base(filepath.Dir(target)), "madoguchi-e2e-") {
				return target
			}
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "madoguchi-e2e-*", "components.log"))
	newest, newestAt := "", time.Time{}
	for _, d := range dirs {
		if fi, err := os.Stat(filepath.Dir(d)); err == nil && fi.ModTime().After(newestAt) {
			newest, newestAt = d, fi.ModTime()
		}
	}
	return newest
}
