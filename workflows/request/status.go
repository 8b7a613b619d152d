package request

import "time"

// Stage is where a request is in its lifecycle; it is also the DsrStage
// search attribute, so staff can list requests by stage.
type Stage string

// Stages of the walking skeleton's lifecycle.
const (
	StageReceived  Stage = "received"
	StageFanOut    Stage = "fan_out"
	StageNotifying Stage = "notifying"
	StageCompleted Stage = "completed"
)

// HolderProgress is one holder's part in the request.
type HolderProgress struct {
	Action     string    `json:"action"`
	Attempts   int       `json:"attempts"`
	Outcome    string    `json:"outcome,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Escalated  bool      `json:"escalated"`
	SentAt     time.Time `json:"sent_at"`
	AnsweredAt time.Time `json:"answered_at,omitempty"`
}

// Status is the answer to the "status" query: the current picture, without
// personal data.
type Status struct {
	RequestID    string                     `json:"request_id"`
	Receipt      string                     `json:"receipt"`
	Kind         string                     `json:"kind"`
	Jurisdiction string                     `json:"jurisdiction"`
	Stage        Stage                      `json:"stage"`
	WaitingFor   string                     `json:"waiting_for,omitempty"`
	Holders      map[string]*HolderProgress `json:"holders"`
}

// Outcome is the workflow's result.
type Outcome struct {
	Receipt        string            `json:"receipt"`
	Stage          Stage             `json:"stage"`
	HolderOutcomes map[string]string `json:"holder_outcomes"`
	ErasureEventID string            `json:"erasure_event_id,omitempty"`
}
