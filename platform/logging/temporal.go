package logging

import (
	"fmt"

	"github.com/rs/zerolog"
	tlog "go.temporal.io/sdk/log"
)

// Temporal adapts zerolog to the Temporal SDK's logger. The SDK logs ids and
// errors, not payloads, so it keeps to the no-personal-data rule.
type Temporal struct{ L zerolog.Logger }

var _ tlog.Logger = Temporal{}

func (t Temporal) log(e *zerolog.Event, msg string, kv []any) {
	for i := 0; i+1 < len(kv); i += 2 {
		key := fmt.Sprint(kv[i])
		if err, ok := kv[i+1].(error); ok {
			e = e.AnErr(key, err)
			continue
		}
		e = e.Interface(key, kv[i+1])
	}
	e.Msg(msg)
}

func (t Temporal) Debug(msg string, kv ...any) { t.log(t.L.Debug(), msg, kv) }
func (t Temporal) Info(msg string, kv ...any)  { t.log(t.L.Info(), msg, kv) }
func (t Temporal) Warn(msg string, kv ...any)  { t.log(t.L.Warn(), msg, kv) }
func (t Temporal) Error(msg string, kv ...any) { t.log(t.L.Error(), msg, kv) }
