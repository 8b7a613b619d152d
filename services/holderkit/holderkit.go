// Package holderkit makes a service a well-behaved data holder: it consumes
// the holder's commands from JetStream, opens the sealed identifiers, runs
// the holder's handler exactly once per (request, action) inside the
// holder's own database transaction, reports the result, and dead-letters
// what it cannot decode. OnErasure gives any internal service a one-call
// subscription to erasure events.
package holderkit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"madoguchi.dev/platform/bus"
	"madoguchi.dev/platform/pgdb"
	"madoguchi.dev/platform/seal"
	"madoguchi.dev/platform/tracing"
	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
	"madoguchi.dev/services/holderkit/migrations"
)

// Command is a decoded command with its identifiers opened.
type Command struct {
	ID        string
	RequestID string
	Receipt   string
	Action    dsrv1.Action
	Attempt   int32
	// Subject holds the person's identifiers. Never log it.
	Subject *dsrv1.Subject
	// Corrections are the staff-approved new values for ACTION_CORRECT.
	Corrections map[string]string
	// IncludeEntrusted lists the entrusting companies (委託元) that told us to
	// proceed: act on records held for them too. Records held for any other
	// company must be left alone and reported in Result.Entrusted.
	IncludeEntrusted []string
	// Binding is what the requester proved; Covers applies it.
	Binding Binding
}

// Includes reports whether records held for companyID may be acted on.
func (c Command) Includes(companyID string) bool {
	for _, id := range c.IncludeEntrusted {
		if id == companyID {
			return true
		}
	}
	return false
}

// Result is what the handler reports. Export is sealed before it leaves.
type Result struct {
	Outcome         dsrv1.Outcome
	Reason          string
	LegalBasis      string
	RecordsAffected int
	// Export is the holder's JSON document for ACTION_EXPORT*.
	Export    []byte
	Entrusted []*dsrv1.EntrustedRecord
	// Unconfirmed and MemberConfirmed answer ACTION_LOCATE (Tally).
	Unconfirmed     int
	MemberConfirmed bool
	// RetainedUntil is the latest date until which a law makes the holder
	// keep what it kept (OUTCOME_RETAINED_BY_LAW / PARTIAL); zero if none.
	RetainedUntil time.Time
}

// HandlerFunc carries out one command inside tx, the transaction in which
// holderkit also records the command as processed: the effect and the record
// commit together or not at all. An error means "not done, try again".
type HandlerFunc func(ctx context.Context, tx pgx.Tx, cmd Command) (Result, error)

// Holder is one data holder.
type Holder struct {
	// Name is the holder's subject token and registry name, e.g. "members".
	Name      string
	Namespace contract.Namespace
	JS        jetstream.JetStream
	Pool      *pgxpool.Pool
	// Ring is the command key ring (MADOGUCHI_COMMAND_KEYS), shared with the
	// worker only: it opens the command's identifiers and seals the export.
	Ring *seal.Ring
	Log  zerolog.Logger
	// Actions this holder implements; any other action is reported as failed
	// (not retryable) so the workflow escalates instead of waiting.
	Actions map[dsrv1.Action]HandlerFunc
	// Retention is how long processed commands (whose results may hold a
	// sealed export) are kept for answering redeliveries; zero means
	// DefaultRetention. See PurgeProcessed.
	Retention time.Duration
	// Concurrency is how many commands are carried out at once (default
	// DefaultConcurrency), each in its own transaction. Two deliveries of one
	// command cannot both take effect: the processed-commands key (request,
	// action) lets one transaction commit and rolls the other back.
	Concurrency int
}

// DefaultConcurrency is a holder's default Concurrency: the size of the
// holder's default connection pool.
const DefaultConcurrency = 4

// Migrate creates holderkit's table in the holder's database.
func (h *Holder) Migrate(ctx context.Context) error {
	return pgdb.MigrateTable(ctx, h.Pool, migrations.FS, "holderkit_db_version")
}

// Run migrates holderkit's table and consumes commands until ctx ends.
func (h *Holder) Run(ctx context.Context) error {
	if err := h.Migrate(ctx); err != nil {
		return fmt.Errorf("holderkit %s: %w", h.Name, err)
	}
	go h.purgeEvery(ctx, time.Hour)
	return bus.Consumer{
		Namespace: h.Namespace, Stream: h.Namespace.StreamCommands(), Durable: "holder-" + h.Name,
		FilterSubjects: []string{h.Namespace.CommandsFor(h.Name)}, Concurrency: cmp.Or(h.Concurrency, DefaultConcurrency), Log: h.Log,
	}.Run(ctx, h.JS, h.Handle)
}

const qProcessed = `-- name: ProcessedResult
SELECT result FROM holderkit_processed_commands WHERE request_id = $1 AND action = $2`

const qRecord = `-- name: RecordProcessed
INSERT INTO holderkit_processed_commands (request_id, action, command_id, result) VALUES ($1, $2, $3, $4)`

// Handle processes one command message (exported for tests and custom loops).
func (h *Holder) Handle(ctx context.Context, msg jetstream.Msg) error {
	var pc dsrv1.HolderCommand
	if err := bus.Decode(msg, &pc); err != nil {
		return bus.Poison("%v", err)
	}
	if pc.GetRequestId() == "" || pc.GetCommandId() == "" || pc.GetAction() == dsrv1.Action_ACTION_UNSPECIFIED {
		return bus.Poison("HolderCommand lacks request_id, command_id or action")
	}
	if !cleanID(pc.GetRequestId()) || !cleanID(pc.GetCommandId()) {
		return bus.Poison("HolderCommand has a malformed request_id or command_id")
	}
	for _, c := range pc.GetIncludeEntrusted() {
		if !cleanID(c) {
			return bus.Poison("HolderCommand has a malformed entrusting company id")
		}
	}
	if pc.GetHolder() != h.Name {
		return bus.Poison("command for holder %q delivered to %q", pc.GetHolder(), h.Name)
	}
	log := h.Log.With().Str("request_id", pc.GetRequestId()).Str("command_id", pc.GetCommandId()).
		Str("action", contract.ActionName(pc.GetAction())).Logger()
	action := contract.ActionName(pc.GetAction())
	// ctx carries the workflow's trace (bus.Consumer extracted it); the
	// consumer span gets the holder and action, never the identifiers.
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(tracing.AttrHolder.String(h.Name), tracing.AttrAction.String(action))
	if inc := pc.GetIncludeEntrusted(); len(inc) > 0 {
		sorted := append([]string(nil), inc...)
		slices.Sort(sorted)
		action += "+" + strings.Join(sorted, ",")
	}

	// Answered before? Report the stored result again: the effect happened once.
	// The key includes the entrusting companies cleared so far, so that a
	// second command after an instruction to proceed is carried out.
	var stored []byte
	err := h.Pool.QueryRow(ctx, qProcessed, pc.GetRequestId(), action).Scan(&stored)
	switch {
	case err == nil:
		var res dsrv1.HolderResult
		if err := proto.Unmarshal(stored, &res); err != nil {
			return fmt.Errorf("stored result unreadable: %w", err)
		}
		res.CommandId, res.Replayed = pc.GetCommandId(), true
		span.SetAttributes(tracing.AttrOutcome.String(res.GetOutcome().String()))
		log.Info().Msg("command already processed; result reported again")
		return h.publish(ctx, &res)
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("read processed commands: %w", err)
	}

	cmd := Command{ID: pc.GetCommandId(), RequestID: pc.GetRequestId(), Receipt: pc.GetReceipt(),
		Action: pc.GetAction(), Attempt: pc.GetAttempt(), Subject: &dsrv1.Subject{},
		IncludeEntrusted: pc.GetIncludeEntrusted()}
	if err := h.Ring.OpenMessage(pc.GetSubject(), cmd.Subject); err != nil {
		return bus.Poison("subject envelope: %v", err)
	}
	if err := h.openBinding(&pc, &cmd); err != nil {
		return err
	}
	if pc.GetCorrections() != nil {
		var c dsrv1.Corrections
		if err := h.Ring.OpenMessage(pc.GetCorrections(), &c); err != nil {
			return bus.Poison("corrections envelope: %v", err)
		}
		cmd.Corrections = c.GetValues()
	}

	res := &dsrv1.HolderResult{CommandId: pc.GetCommandId(), RequestId: pc.GetRequestId(),
		Receipt: pc.GetReceipt(), Holder: h.Name, Action: pc.GetAction()}
	err = pgx.BeginFunc(ctx, h.Pool, func(tx pgx.Tx) error {
		handler, ok := h.Actions[pc.GetAction()]
		var r Result
		if ok {
			var err error
			if r, err = handler(ctx, tx, cmd); err != nil {
				return err
			}
		} else {
			r = Result{Outcome: dsrv1.Outcome_OUTCOME_FAILED, Reason: "action not supported by this holder"}
		}
		res.Outcome, res.Reason, res.LegalBasis = r.Outcome, r.Reason, r.LegalBasis
		res.RecordsAffected, res.Entrusted = int32(r.RecordsAffected), r.Entrusted
		res.RecordsUnconfirmed, res.MemberConfirmed = int32(r.Unconfirmed), r.MemberConfirmed
		if !r.RetainedUntil.IsZero() {
			res.RetainedUntil = timestamppb.New(r.RetainedUntil)
		}
		if r.Export != nil {
			sealed, err := h.Ring.MessageFor(&dsrv1.Export{Holder: h.Name, Json: r.Export}, contract.ExportScope(pc.GetRequestId(), h.Name))
			if err != nil {
				return err
			}
			res.Export = sealed
		}
		res.CompletedAt = timestamppb.New(time.Now())
		data, err := proto.Marshal(res)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, qRecord, pc.GetRequestId(), action, pc.GetCommandId(), data)
		return err
	})
	if err != nil {
		return fmt.Errorf("carry out command: %w", err)
	}
	span.SetAttributes(tracing.AttrOutcome.String(res.GetOutcome().String()))
	log.Info().Str("outcome", res.GetOutcome().String()).Int32("records", res.GetRecordsAffected()).Msg("command carried out")
	// If this publish fails the message is redelivered, and the stored result
	// is reported from the processed table above.
	return h.publish(ctx, res)
}

// openBinding fills cmd.Binding from the command. A command from a workflow
// recorded before the binding rule carries none: what such a workflow
// verified is the subject's e-mail address, so that is all it covers.
func (h *Holder) openBinding(pc *dsrv1.HolderCommand, cmd *Command) error {
	if pc.GetBinding() == nil {
		cmd.Binding = Binding{ProvenEmail: cmd.Subject.GetEmail()}
		return nil
	}
	var b dsrv1.Binding
	if err := h.Ring.OpenMessage(pc.GetBinding(), &b); err != nil {
		return bus.Poison("binding envelope: %v", err)
	}
	cmd.Binding = Binding{ProvenEmail: b.GetProvenEmail(), MemberConfirmed: b.GetMemberConfirmed(),
		IdentityReviewed: b.GetIdentityReviewed()}
	return nil
}

func (h *Holder) publish(ctx context.Context, res *dsrv1.HolderResult) error {
	_, err := bus.Publish(ctx, h.JS, h.Namespace.Result(h.Name), res.GetCommandId()+".result", res.GetRequestId(), res)
	return err
}

// cleanID accepts the ids Madoguchi produces: short, printable, valid UTF-8
// (PostgreSQL refuses NUL, and a huge id would overflow the index).
func cleanID(s string) bool {
	if len(s) == 0 || len(s) > 200 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}
