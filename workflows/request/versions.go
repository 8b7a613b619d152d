package request

import "go.temporal.io/sdk/workflow"

// Every change to the workflow's code that running requests would replay
// differently is versioned here, with workflow.GetVersion: a request takes
// the branch its history recorded, so every recorded history keeps
// replaying (replay_test.go replays the committed ones).

// ChangeAnnounceConclusion is the workflow.GetVersion change id of the
// RequestConcluded event published when a request ends.
const ChangeAnnounceConclusion = "announce-conclusion"

// ChangeFanOutRoundTimer is the workflow.GetVersion change id of fan-out
// v2: a round's commands sent together and one SLA timer per round instead
// of one per holder.
const ChangeFanOutRoundTimer = "fanout-round-timer"

// ChangeCoalesceSearchAttributes is the workflow.GetVersion change id of
// coalesced search attribute upserts (search.go), and of not upserting the
// attributes the workflow was started with.
const ChangeCoalesceSearchAttributes = "coalesce-search-attributes"

// ChangeBundle202612 is the one change id a request started since records
// in place of the three above, whose changes it then all has. Each
// workflow.GetVersion that records a version costs a marker and an upsert
// of TemporalChangeVersion (a command, a history event and a visibility
// write each, and on Temporal Cloud billed actions). Requests recorded
// before it have no such marker, so they ask for each change where they
// always did (has). Each later change (ChangeIdentity202612) gets a
// GetVersion of its own.
const ChangeBundle202612 = "bundle-2026-12"

// ChangeIdentity202612 is the workflow.GetVersion change id of the identity
// binding: codes derived from a worker-only secret and checked by a keyed
// MAC, holders told what the requester proved (holderkit.Binding), identity
// review for every record found only by a typed identifier, related
// requests reported only once identity is established, and download links
// that only the activity creating them knows.
const ChangeIdentity202612 = "identity-2026-12"

// versions reads the change versions a request records at its start, in
// the order requests since ChangeIdentity202612 record them.
func (r *run) versions(ctx workflow.Context) {
	r.bundled = workflow.GetVersion(ctx, ChangeBundle202612, workflow.DefaultVersion, 1) == 1
	r.identity = workflow.GetVersion(ctx, ChangeIdentity202612, workflow.DefaultVersion, 1) == 1
}

// has reports whether this request runs with change (a change id of
// version 1 above): every request since ChangeBundle202612 does; one from
// before asks, as it did, which records the answer on its first run.
func (r *run) has(ctx workflow.Context, change string) bool {
	return r.bundled || workflow.GetVersion(ctx, change, workflow.DefaultVersion, 1) == 1
}
