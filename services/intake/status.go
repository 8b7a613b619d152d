package intake

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"madoguchi.dev/proto/contract"
	dsrv1 "madoguchi.dev/proto/gen/dsr/v1"
)

// statusPage is the person's view of a request, reached only through the
// secret link e-mailed to them.
type statusPage struct {
	base
	Token string
	Ref   RequestRef
	// Status is nil while the workflow has not started (Processing) or
	// cannot be asked (Unavailable).
	Status      *dsrv1.RequestStatus
	Processing  bool
	Unavailable bool
	// Done is the confirmation of the last action (a text key).
	Done string
	// CodeError is the message next to the code field; Rejected a refused
	// action's explanation.
	CodeError, Rejected, RejectedDetail string
	Steps                               []step
	Reason                              string
}

type step struct {
	Key           string
	Done, Current bool
}

// Helpers the template reads.

func (p statusPage) Stage() string { return p.Status.GetStage() }

func (p statusPage) Due() time.Time { return p.Status.GetDueAt().AsTime() }

// Verifying: the code is awaited (once it matched, the stage stays
// "verifying" for a moment while the records are located).
func (p statusPage) Verifying() bool {
	return p.Status.GetStage() == contract.StageVerifying && p.Status.GetVerification().GetState() != contract.VerificationVerified
}

// CodeOpen: a code can be entered now (one is live and not locked).
func (p statusPage) CodeOpen() bool {
	return p.Verifying() && p.Status.GetVerification().GetState() == contract.VerificationPending
}

func (p statusPage) CanWithdraw() bool {
	switch p.Status.GetStage() {
	case "", contract.StageCompleted, contract.StageClosed:
		return false
	}
	return !p.Status.GetWithdrawn()
}

// BeforeFanOut: withdrawing still closes the request.
func (p statusPage) BeforeFanOut() bool {
	switch p.Status.GetStage() {
	case contract.StageReceived, contract.StageVerifying, contract.StageLocating, contract.StageIdentityReview,
		contract.StageAwaitingFee, contract.StageStaffReview:
		return true
	}
	return false
}

func (p statusPage) TodoKey() string {
	switch s := p.Status.GetStage(); s {
	case contract.StageVerifying:
		if !p.Verifying() {
			return "todo.processing"
		}
		return "todo." + s
	case contract.StageIdentityReview, contract.StageAwaitingFee, contract.StageStaffReview, contract.StageCompleted:
		return "todo." + s
	case contract.StageLocating, contract.StageFanOut, contract.StageAwaitingEntrusted, contract.StageNotifying:
		return "todo.processing"
	}
	return ""
}

func (p statusPage) ClosedKey() string {
	switch r := p.Status.GetClosedReason(); r {
	case contract.ClosedUnverified, contract.ClosedUnpaid, contract.ClosedWithdrawn, contract.ClosedRefused,
		contract.ClosedIdentityRejected:
		return "closed." + r
	}
	return "closed.other"
}

func (p statusPage) KindLabel() string {
	return kindLabel(p.Locale, p.Ref.Kind)
}

func (p statusPage) Link(suffix string) string {
	u := "/status/" + p.Token + suffix
	if p.Locale != p.Ref.Locale {
		u += "?lang=" + p.Locale
	}
	return u
}

// steps is the path of this request as the person sees it.
func steps(s *dsrv1.RequestStatus) []step {
	keys := []string{"stage.received", "stage.verifying"}
	// Every agent's filing is reviewed; another request shows the step once
	// it is there (the binding rule can send any request to review).
	if s.GetFiledByAgent() || s.GetStage() == contract.StageIdentityReview {
		keys = append(keys, "stage.identity_review")
	}
	if s.GetFee().GetRequired() {
		keys = append(keys, "stage.awaiting_fee")
	}
	keys = append(keys, "step.processing", "stage.completed")
	current := "stage." + s.GetStage()
	switch s.GetStage() {
	case contract.StageLocating, contract.StageStaffReview, contract.StageFanOut, contract.StageAwaitingEntrusted,
		contract.StageNotifying:
		current = "step.processing"
	case contract.StageClosed:
		current = ""
	}
	out := make([]step, len(keys))
	reached := false
	for i := len(keys) - 1; i >= 0; i-- {
		out[i].Key = keys[i]
		if keys[i] == current {
			out[i].Current, reached = true, true
			if current == "stage.completed" {
				out[i].Done = true
			}
		} else if reached {
			out[i].Done = true
		}
	}
	return out
}

// pageLocale: the request's language unless the person switched (?lang=).
func pageLocale(r *http.Request, requestLocale string) string {
	l := r.URL.Query().Get("lang")
	if r.Method == http.MethodPost {
		l = r.PostFormValue("lang")
	}
	switch l {
	case "ja", "en":
		return l
	}
	if requestLocale == "en" {
		return "en"
	}
	return "ja"
}

// lookup resolves the secret link; unknown links get the same answer as
// wrong ones, and receipts are never accepted in their place.
func (h *HTTP) lookup(w http.ResponseWriter, r *http.Request) (RequestRef, string, bool) {
	token := r.PathValue("token")
	ref, err := h.Service.ByStatusToken(r.Context(), token)
	if err != nil {
		if !errors.Is(err, ErrUnknownToken) {
			h.Log.Error().Err(err).Msg("status link lookup failed")
			h.renderMessage(w, http.StatusServiceUnavailable, localeOf(r), "unavailable_title", "unavailable_text")
			return ref, "", false
		}
		h.renderMessage(w, http.StatusNotFound, localeOf(r), "notfound_title", "notfound_text")
		return ref, "", false
	}
	return ref, token, true
}

func (h *HTTP) newStatusPage(ctx context.Context, r *http.Request, ref RequestRef, token string) statusPage {
	locale := pageLocale(r, ref.Locale)
	p := statusPage{base: base{Locale: locale, TitleKey: "status_title"}, Token: token, Ref: ref}
	other := p.OtherLocale()
	p.Other = "/status/" + token + "?lang=" + other
	if h.Requests == nil {
		p.Unavailable = true
		return p
	}
	st, err := h.Requests.Status(ctx, ref.Receipt)
	switch {
	case errors.Is(err, ErrNotStarted):
		p.Processing = true
	case err != nil:
		h.Log.Warn().Err(err).Str("receipt", ref.Receipt).Msg("status query failed")
		p.Unavailable = true
	case st.GetStage() == contract.StageReceived || st.GetDueAt() == nil,
		// The first code is on its way: nothing to enter or resend yet.
		st.GetStage() == contract.StageVerifying && st.GetVerification().GetState() == contract.VerificationNotStarted:
		p.Processing = true
	default:
		p.Status = st
		p.Steps = steps(st)
	}
	return p
}

// handleStatus is GET /status/{token}.
func (h *HTTP) handleStatus(w http.ResponseWriter, r *http.Request) {
	ref, token, ok := h.lookup(w, r)
	if !ok {
		return
	}
	p := h.newStatusPage(r.Context(), r, ref, token)
	switch d := r.URL.Query().Get("done"); d {
	case "verified", "resent", "withdrawn":
		p.Done = "done." + d
	}
	h.renderStatus(w, http.StatusOK, p)
}

func (h *HTTP) renderStatus(w http.ResponseWriter, status int, p statusPage) {
	if p.Unavailable && status == http.StatusOK {
		status = http.StatusServiceUnavailable
	}
	h.render(w, status, "status.html", p)
}

// redirectStatus answers a successful action with a fresh status page
// (post/redirect/get: reloading does not repeat the action).
func redirectStatus(w http.ResponseWriter, r *http.Request, token, done, locale, requestLocale string) {
	q := url.Values{"done": {done}}
	if locale != requestLocale {
		q.Set("lang", locale)
	}
	http.Redirect(w, r, "/status/"+token+"?"+q.Encode(), http.StatusSeeOther)
}

// normaliseCode folds full-width digits and drops spaces and hyphens people
// type between groups ("123 456", "１２３－４５６").
func normaliseCode(s string) string {
	s = norm.NFKC.String(s)
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t', '\u2212', '\u30fc':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

func validCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// handleVerify is POST /status/{token}/verify: the e-mailed code.
func (h *HTTP) handleVerify(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	ref, token, ok := h.lookup(w, r)
	if !ok {
		return
	}
	locale := pageLocale(r, ref.Locale)
	code := normaliseCode(r.PostFormValue("code"))
	if !validCode(code) {
		p := h.newStatusPage(r.Context(), r, ref, token)
		p.CodeError = text(locale, "verify.malformed")
		h.renderStatus(w, http.StatusUnprocessableEntity, p)
		return
	}
	if h.Requests == nil {
		h.renderStatus(w, http.StatusServiceUnavailable, h.newStatusPage(r.Context(), r, ref, token))
		return
	}
	// An action, once sent, completes even if the person's browser goes away
	// (TemporalRequests bounds it with its own timeout).
	res, err := h.Requests.Verify(context.WithoutCancel(r.Context()), ref.Receipt, code)
	if err != nil {
		h.actionFailed(w, r, ref, token, "verify", err)
		return
	}
	outcome := "verify_" + strings.ToLower(strings.TrimPrefix(res.GetOutcome().String(), "VERIFY_OUTCOME_"))
	h.Log.Info().Str("receipt", ref.Receipt).Str("outcome", outcome).Msg("verification code entered")
	var msg string
	switch res.GetOutcome() {
	case dsrv1.VerifyOutcome_VERIFY_OUTCOME_VERIFIED, dsrv1.VerifyOutcome_VERIFY_OUTCOME_ALREADY_VERIFIED:
		redirectStatus(w, r, token, "verified", locale, ref.Locale)
		return
	case dsrv1.VerifyOutcome_VERIFY_OUTCOME_WRONG:
		msg = textf(locale, "verify.wrong", res.GetAttemptsLeft())
	case dsrv1.VerifyOutcome_VERIFY_OUTCOME_LOCKED:
		msg = text(locale, "verify.locked")
		if res.GetResendsLeft() == 0 {
			msg = text(locale, "verify.locked_final")
		}
	case dsrv1.VerifyOutcome_VERIFY_OUTCOME_EXPIRED:
		msg = text(locale, "verify.expired")
	default:
		msg = text(locale, "verify.malformed")
	}
	p := h.newStatusPage(r.Context(), r, ref, token)
	p.CodeError = msg
	h.renderStatus(w, http.StatusUnprocessableEntity, p)
}

// handleResend is POST /status/{token}/resend.
func (h *HTTP) handleResend(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	ref, token, ok := h.lookup(w, r)
	if !ok {
		return
	}
	locale := pageLocale(r, ref.Locale)
	if h.Requests == nil {
		h.renderStatus(w, http.StatusServiceUnavailable, h.newStatusPage(r.Context(), r, ref, token))
		return
	}
	if _, err := h.Requests.Resend(context.WithoutCancel(r.Context()), ref.Receipt); err != nil {
		h.actionFailed(w, r, ref, token, "resend", err)
		return
	}
	h.Log.Info().Str("receipt", ref.Receipt).Msg("new verification code requested")
	redirectStatus(w, r, token, "resent", locale, ref.Locale)
}

// withdrawPage confirms a withdrawal (a second step, so that it is never
// one stray click; works without JavaScript).
type withdrawPage struct {
	statusPage
	Reason string
}

// handleWithdrawPage is GET /status/{token}/withdraw.
func (h *HTTP) handleWithdrawPage(w http.ResponseWriter, r *http.Request) {
	ref, token, ok := h.lookup(w, r)
	if !ok {
		return
	}
	p := h.newStatusPage(r.Context(), r, ref, token)
	p.TitleKey = "withdraw_title"
	p.Other = "/status/" + token + "/withdraw?lang=" + p.OtherLocale()
	if p.Status != nil && !p.CanWithdraw() {
		p.Rejected = text(p.Locale, "rejected")
		p.RejectedDetail = h.rejectionText(p.Locale, p.Status, "")
	}
	h.render(w, http.StatusOK, "withdraw.html", withdrawPage{statusPage: p})
}

// handleWithdraw is POST /status/{token}/withdraw.
func (h *HTTP) handleWithdraw(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	ref, token, ok := h.lookup(w, r)
	if !ok {
		return
	}
	locale := pageLocale(r, ref.Locale)
	reason := strings.TrimSpace(norm.NFC.String(r.PostFormValue("reason")))
	if utf8.RuneCountInString(reason) > 1000 {
		reason = string([]rune(reason)[:1000])
	}
	if h.Requests == nil {
		h.renderStatus(w, http.StatusServiceUnavailable, h.newStatusPage(r.Context(), r, ref, token))
		return
	}
	if _, err := h.Requests.Withdraw(context.WithoutCancel(r.Context()), ref.Receipt, reason); err != nil {
		var rej *RejectedError
		if errors.As(err, &rej) || errors.Is(err, ErrNotStarted) {
			p := h.newStatusPage(r.Context(), r, ref, token)
			p.TitleKey = "withdraw_title"
			p.Other = "/status/" + token + "/withdraw?lang=" + p.OtherLocale()
			p.Rejected = text(locale, "rejected")
			detail := ""
			if rej != nil {
				detail = rej.Reason
			}
			p.RejectedDetail = h.rejectionText(locale, p.Status, detail)
			h.render(w, http.StatusConflict, "withdraw.html", withdrawPage{statusPage: p, Reason: reason})
			return
		}
		h.actionFailed(w, r, ref, token, "withdraw", err)
		return
	}
	h.Log.Info().Str("receipt", ref.Receipt).Msg("request withdrawn by the person")
	redirectStatus(w, r, token, "withdrawn", locale, ref.Locale)
}

// rejectionText explains a refused action in the page's language, from the
// request's state where it tells why, else with the workflow's own words.
func (h *HTTP) rejectionText(locale string, st *dsrv1.RequestStatus, workflowReason string) string {
	switch {
	case st.GetStage() == contract.StageCompleted || st.GetStage() == contract.StageClosed:
		return text(locale, "rejected.terminal")
	case st.GetWithdrawn():
		return text(locale, "rejected.withdrawn")
	case workflowReason != "":
		return workflowReason
	}
	return text(locale, "rejected.stage")
}

// actionFailed shows the status page again after a refused or failed action.
func (h *HTTP) actionFailed(w http.ResponseWriter, r *http.Request, ref RequestRef, token, action string, err error) {
	p := h.newStatusPage(r.Context(), r, ref, token)
	var rej *RejectedError
	switch {
	case errors.As(err, &rej):
		h.Log.Info().Str("receipt", ref.Receipt).Str("action", action).Msg("action refused by the workflow")
		p.Rejected = text(p.Locale, "rejected")
		p.RejectedDetail = h.rejectionText(p.Locale, p.Status, rej.Reason)
		h.renderStatus(w, http.StatusConflict, p)
	case errors.Is(err, ErrNotStarted):
		p.Processing = p.Status == nil
		h.renderStatus(w, http.StatusConflict, p)
	default:
		h.Log.Error().Err(err).Str("receipt", ref.Receipt).Str("action", action).Msg("action failed")
		p.Unavailable = true
		h.renderStatus(w, http.StatusServiceUnavailable, p)
	}
}

// feePage shows the fee and how to pay it.
type feePage struct {
	statusPage
	Instructions string
}

// handleFee is GET /status/{token}/fee.
func (h *HTTP) handleFee(w http.ResponseWriter, r *http.Request) {
	ref, token, ok := h.lookup(w, r)
	if !ok {
		return
	}
	p := h.newStatusPage(r.Context(), r, ref, token)
	p.TitleKey = "fee_title"
	p.Other = "/status/" + token + "/fee?lang=" + p.OtherLocale()
	status := http.StatusOK
	if p.Unavailable {
		status = http.StatusServiceUnavailable
	}
	h.render(w, status, "fee.html", feePage{statusPage: p, Instructions: PaymentInstructions})
}

// FeeState is the fee's state text key.
func (p feePage) FeeStateKey() string {
	switch s := p.Status.GetFee().GetState(); s {
	case contract.FeeAwaiting, contract.FeePaid, contract.FeeExpired:
		return "fee." + s
	}
	if !p.Status.GetFee().GetRequired() {
		return "fee.none"
	}
	return "fee_not_yet"
}
