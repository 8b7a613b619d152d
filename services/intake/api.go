package intake

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// maxBody bounds a JSON submission; a real one is a few KiB.
const maxBody = 64 << 10

type apiError struct {
	Error   string            `json:"error"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// handleAPISubmit is POST /api/v1/requests: a JSON body, or multipart with
// the JSON in a "request" part and files in doc_authority / doc_agent_id
// parts (an agent's supporting documents).
func (h *HTTP) handleAPISubmit(w http.ResponseWriter, r *http.Request) {
	locale := "en"
	if strings.HasPrefix(r.Header.Get("Accept-Language"), "ja") {
		locale = "ja"
	}
	var sub Submission
	var docs []Document
	var raw io.Reader
	switch ct := r.Header.Get("Content-Type"); {
	case isMultipart(r):
		fd, err := parseForm(w, r)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid_multipart", Message: jsonProblem(err)})
			return
		}
		raw = strings.NewReader(fd.Values.Get("request"))
		for _, purpose := range DocumentPurposes {
			if b, ok := fd.Files["doc_"+purpose]; ok {
				docs = append(docs, Document{Purpose: purpose, Content: b})
			}
		}
	case ct != "" && !strings.HasPrefix(ct, "application/json"):
		writeJSON(w, http.StatusUnsupportedMediaType, apiError{Error: "unsupported_media_type", Message: "send application/json or multipart/form-data"})
		return
	default:
		raw = http.MaxBytesReader(w, r.Body, maxBody)
	}
	dec := json.NewDecoder(raw)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sub); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid_json", Message: jsonProblem(err)})
		return
	}
	if dec.More() {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid_json", Message: "body must hold exactly one JSON object"})
		return
	}
	sub.Documents = docs
	if sub.Locale != "" {
		locale = sub.Locale
	}
	acc, err := h.Service.Submit(r.Context(), sub, strings.TrimSpace(r.Header.Get("Idempotency-Key")))
	var verr *ValidationError
	var qerr *MailQuotaError
	switch {
	case errors.As(err, &verr):
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "validation_failed",
			Message: "some fields are invalid", Fields: verr.Fields.Localise(locale)})
	case errors.Is(err, ErrIdempotencyConflict):
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "idempotency_key_reused", Message: err.Error()})
	case errors.As(err, &qerr):
		w.Header().Set("Retry-After", retryAfter(qerr.RetryAfter))
		writeJSON(w, http.StatusTooManyRequests, apiError{Error: "mail_quota", Message: mailQuotaText(locale, qerr.Limit)})
	case err != nil:
		h.Log.Error().Err(err).Msg("submission failed")
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "unavailable", Message: "the request could not be stored; please retry with the same Idempotency-Key"})
	default:
		if acc.Replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		writeJSON(w, http.StatusAccepted, acc)
	}
}

// jsonProblem describes a decode error without echoing the body (which may
// hold personal data).
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &syn):
		return "malformed JSON"
	case errors.As(err, &typ):
		return "field " + typ.Field + " has the wrong type"
	case errors.As(err, &tooBig):
		return "body too large"
	case errors.Is(err, io.EOF):
		return "empty body"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	default:
		return "malformed JSON"
	}
}
