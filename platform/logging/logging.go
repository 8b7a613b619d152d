// Package logging sets up zerolog the same way in every binary.
//
// Rule: log ids (request id, receipt, holder, command id), stages, outcomes
// and error categories; never names, e-mail addresses, phone numbers, member
// numbers or free text from a request.
package logging

import (
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// New returns a logger for one component. LOG_FORMAT=console gives
// human-readable output (make dev); anything else JSON. LOG_LEVEL sets the level.
func New(component string) zerolog.Logger {
	var w io.Writer = os.Stderr
	if os.Getenv("LOG_FORMAT") == "console" {
		w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}
	}
	level, err := zerolog.ParseLevel(os.Getenv("LOG_LEVEL"))
	if err != nil || os.Getenv("LOG_LEVEL") == "" {
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Str("component", component).Logger()
}
