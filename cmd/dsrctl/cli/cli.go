// Package cli is dsrctl, the staff command line: find requests by the saved
// views, show one request's status, timeline and audit trail, and perform
// the staff actions — each authenticated with the staff token, sent to the
// workflow as a validated update and recorded in the audit log.
//
// The logic lives in services/staff; this package parses flags and prints.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"madoguchi.dev/services/staff"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitError    = 1 // infrastructure, unknown outcome
	ExitUsage    = 2 // bad flags or arguments
	ExitRejected = 3 // the workflow (or the role) refused the action
	ExitAuth     = 4 // no valid staff token
)

// Backend is what dsrctl needs from services/staff.
type Backend interface {
	Do(ctx context.Context, token string, a staff.Action) (staff.Outcome, error)
	List(ctx context.Context, token string, f staff.Filter) ([]staff.Summary, string, error)
	Show(ctx context.Context, token, receipt string) (*staff.Details, error)
	Audit(ctx context.Context, token string, f staff.AuditFilter) ([]staff.AuditEntry, error)
}

// Conn is the connection configuration (flags and environment).
type Conn struct {
	Temporal, Namespace string
	// Keys is MADOGUCHI_KEYS (decode locally); else CodecEndpoint is used
	// as a remote codec with the staff token.
	Keys, CodecEndpoint string
	StaffDatabaseURL    string
	Token               string
	// SigningKey is MADOGUCHI_STAFF_SIGNING_KEY ("id:base64seed"): every
	// action is signed with it for the authenticated account.
	SigningKey string
}

// Env is everything dsrctl takes from its surroundings.
type Env struct {
	Getenv         func(string) string
	Stdout, Stderr io.Writer
	// Connect opens the backend; nil uses Dial (Temporal + staff database).
	Connect func(ctx context.Context, c Conn) (Backend, func(), error)
	// OpenStore opens the staff store for account management; nil uses
	// the staff database.
	OpenStore func(ctx context.Context, dsn string) (*staff.Store, func(), error)
}

type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func fail(code int, err error) error { return &exitError{code: code, err: err} }

// Main runs dsrctl with the process's environment.
func Main(ctx context.Context, args []string) int {
	return Run(ctx, args, Env{Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr})
}

// Run executes one dsrctl command and returns its exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Connect == nil {
		env.Connect = Dial
	}
	if env.OpenStore == nil {
		env.OpenStore = OpenStore
	}
	root := newRoot(env)
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		fmt.Fprintln(env.Stderr, "dsrctl:", ee.err)
		return ee.code
	}
	fmt.Fprintln(env.Stderr, "dsrctl:", err)
	fmt.Fprintln(env.Stderr, "Run 'dsrctl --help' for usage.")
	return ExitUsage
}

type app struct {
	env       Env
	conn      Conn
	tokenFile string
	backend   Backend
	close     func()
}

func envOr(env Env, key, def string) string {
	if v := env.Getenv(key); v != "" {
		return v
	}
	return def
}

func newRoot(env Env) *cobra.Command {
	a := &app{env: env}
	root := &cobra.Command{
		Use:   "dsrctl",
		Short: "Find and act on privacy requests (staff)",
		Long: `dsrctl finds privacy requests by the saved views, shows one request's status,
timeline and audit trail, and performs the staff actions. Every action needs
a staff token (DSRCTL_TOKEN or --token-file), goes to the request's workflow as
a validated update, and is recorded in the audit log, accepted or rejected.

Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, STAFF_DATABASE_URL,
DSRCTL_TOKEN, MADOGUCHI_KEYS or DSRCTL_CODEC_ENDPOINT (to read and write
encrypted payloads), and MADOGUCHI_STAFF_SIGNING_KEY (actions: the workflow
accepts only staff actions signed with it).

Exit codes: 0 done, 1 error or unknown outcome, 2 usage, 3 rejected, 4 not authenticated.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := root.PersistentFlags()
	f.StringVar(&a.conn.Temporal, "temporal", envOr(env, "TEMPORAL_ADDRESS", "127.0.0.1:7233"), "Temporal frontend host:port")
	f.StringVar(&a.conn.Namespace, "namespace", envOr(env, "TEMPORAL_NAMESPACE", "default"), "Temporal namespace")
	f.StringVar(&a.conn.CodecEndpoint, "codec-endpoint", env.Getenv("DSRCTL_CODEC_ENDPOINT"), "codec server URL (when MADOGUCHI_KEYS is not set)")
	f.StringVar(&a.conn.StaffDatabaseURL, "staff-db", env.Getenv("STAFF_DATABASE_URL"), "staff database URL")
	f.StringVar(&a.tokenFile, "token-file", "", "read the staff token from this file (default: $DSRCTL_TOKEN)")
	a.conn.Keys = env.Getenv("MADOGUCHI_KEYS")
	a.conn.SigningKey = env.Getenv("MADOGUCHI_STAFF_SIGNING_KEY")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })

	root.AddCommand(a.listCmd(), a.viewsCmd(), a.showCmd(), a.auditCmd(), a.staffCmd())
	for _, c := range a.actionCmds() {
		root.AddCommand(c)
	}
	return root
}

func (a *app) token() (string, error) {
	if a.tokenFile != "" {
		b, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return "", fail(ExitAuth, fmt.Errorf("token file: %w", err))
		}
		return strings.TrimSpace(string(b)), nil
	}
	if t := a.env.Getenv("DSRCTL_TOKEN"); t != "" {
		return t, nil
	}
	return "", fail(ExitAuth, errors.New("no staff token: set DSRCTL_TOKEN or use --token-file"))
}

// connect opens the backend once per command.
func (a *app) connect(ctx context.Context) (Backend, string, error) {
	tok, err := a.token()
	if err != nil {
		return nil, "", err
	}
	if a.backend == nil {
		c := a.conn
		c.Token = tok
		b, closeFn, err := a.env.Connect(ctx, c)
		if err != nil {
			return nil, "", fail(ExitError, err)
		}
		a.backend, a.close = b, closeFn
	}
	return a.backend, tok, nil
}

func (a *app) done() {
	if a.close != nil {
		a.close()
	}
}

// classify turns a services/staff error into an exit code.
func classify(err error) error {
	var rej *staff.RejectedError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, staff.ErrUnauthenticated):
		return fail(ExitAuth, err)
	case errors.As(err, &rej):
		return fail(ExitRejected, err)
	}
	return fail(ExitError, err)
}

// --- reading ---

func (a *app) listCmd() *cobra.Command {
	var f staff.Filter
	var dueWithin string
	var showQuery bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List requests (running ones unless --closed) by saved view or filters",
		Example: `  dsrctl list --overdue
  dsrctl list --waiting
  dsrctl list --attention --kind deletion
  dsrctl list --view due-this-week
  dsrctl list --stage staff_review --jurisdiction EU`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dueWithin != "" {
				d, err := parseDays(dueWithin)
				if err != nil {
					return err
				}
				f.DueWithin = d
			}
			b, tok, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer a.done()
			rows, q, err := b.List(cmd.Context(), tok, f)
			if err != nil {
				return classify(err)
			}
			out := cmd.OutOrStdout()
			if showQuery {
				fmt.Fprintf(out, "query: %s\n", q)
			}
			printSummaries(out, rows)
			return nil
		},
	}
	fl := c.Flags()
	fl.BoolVar(&f.Overdue, "overdue", false, "past the due date (DsrAttention = 'overdue')")
	fl.BoolVar(&f.Attention, "attention", false, "needs attention for any reason (DsrNeedsAttention = true)")
	fl.BoolVar(&f.WaitingOnStaff, "waiting", false, "waiting on staff (identity review, decision, escalated holder, entrusted instruction)")
	fl.StringVar(&f.Kind, "kind", "", "request kind (deletion, disclosure, correction, …)")
	fl.StringVar(&f.Stage, "stage", "", "stage (verifying, identity_review, awaiting_fee, staff_review, fan_out, awaiting_entrusted, …)")
	fl.StringVar(&f.Jurisdiction, "jurisdiction", "", "JP, EU or US-CA")
	fl.StringVar(&f.Receipt, "receipt", "", "one receipt number")
	fl.StringVar(&f.SubjectRef, "subject-ref", "", "subject pseudonym (DsrSubjectRef): the same person's requests")
	fl.StringVar(&f.View, "view", "", "a saved view (see `dsrctl views`)")
	fl.StringVar(&dueWithin, "due-within", "", "due within this long, e.g. 7d or 36h")
	fl.BoolVar(&f.Closed, "closed", false, "include completed and closed requests")
	fl.IntVar(&f.Limit, "limit", 200, "at most this many rows")
	fl.BoolVar(&showQuery, "show-query", false, "print the visibility query (to paste into the Temporal UI)")
	return c
}

func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("--due-within %q: want e.g. 7d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--due-within %q: want e.g. 7d or 36h", s)
	}
	return d, nil
}

func (a *app) viewsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "views",
		Short: "Print the saved views and their Temporal visibility queries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			printViews(cmd.OutOrStdout(), time.Now())
			return nil
		},
	}
}

func (a *app) showCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show RECEIPT",
		Short: "Show one request: status, holders, timeline and staff actions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, tok, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer a.done()
			d, err := b.Show(cmd.Context(), tok, args[0])
			if err != nil {
				return classify(err)
			}
			printDetails(cmd.OutOrStdout(), d)
			return nil
		},
	}
}

func (a *app) auditCmd() *cobra.Command {
	var f staff.AuditFilter
	c := &cobra.Command{
		Use:   "audit [RECEIPT]",
		Short: "Show the audit log (newest first), for one request or all",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				f.Receipt = args[0]
			}
			b, tok, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer a.done()
			rows, err := b.Audit(cmd.Context(), tok, f)
			if err != nil {
				return classify(err)
			}
			printAudit(cmd.OutOrStdout(), rows, len(args) == 0)
			return nil
		},
	}
	c.Flags().StringVar(&f.Actor, "actor", "", "only this staff member's actions")
	c.Flags().IntVar(&f.Limit, "limit", 100, "at most this many rows")
	return c
}

// --- actions ---

func (a *app) run(cmd *cobra.Command, act staff.Action) error {
	b, tok, err := a.connect(cmd.Context())
	if err != nil {
		return err
	}
	defer a.done()
	out, err := b.Do(cmd.Context(), tok, act)
	if err != nil {
		var rej *staff.RejectedError
		if errors.As(err, &rej) && out.Audit.ID != 0 {
			return fail(ExitRejected, fmt.Errorf("%s %s rejected: %s (audit #%d)", act.Name, act.Receipt, rej.Message, out.Audit.ID))
		}
		return classify(err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %s accepted: %s\n  stage now: %s · by %s · audit #%d\n",
		act.Name, act.Receipt, out.Message, out.Stage, out.Actor, out.Audit.ID)
	return nil
}

func (a *app) actionCmds() []*cobra.Command {
	var cmds []*cobra.Command
	add := func(c *cobra.Command, build func(receipt string) (staff.Action, error)) {
		c.Args = cobra.ExactArgs(1)
		c.RunE = func(cmd *cobra.Command, args []string) error {
			act, err := build(args[0])
			if err != nil {
				return err
			}
			if err := act.Err(); err != nil {
				return err // a usage error: nothing sent, nothing recorded
			}
			return a.run(cmd, act)
		}
		cmds = append(cmds, c)
	}

	{
		var grounds []string
		var corrections map[string]string
		var text string
		c := &cobra.Command{Use: "approve RECEIPT", Short: "Approve the request (staff_review); corrections for correction/addition",
			Example: `  dsrctl approve 20261126-7K3M9Q
  dsrctl approve 20261126-7K3M9Q --grounds no_longer_needed
  dsrctl approve 20261126-7K3M9Q --correction email=new@example.jp --correction address='…'`}
		c.Flags().StringSliceVar(&grounds, "grounds", nil, "Art. 35 grounds confirmed (suspension, erasure, third_party_stop)")
		c.Flags().StringToStringVar(&corrections, "correction", nil, "approved new value, field=value (repeatable)")
		c.Flags().StringVar(&text, "text", "", "explanation for the notice (optional)")
		add(c, func(r string) (staff.Action, error) { return staff.Approve(r, grounds, corrections, text), nil })
	}
	{
		var code, text string
		var partial bool
		c := &cobra.Command{Use: "refuse RECEIPT", Short: "Refuse (or --partial) with a reason code and the notice's explanation",
			Example: `  dsrctl refuse 20261126-7K3M9Q --reason grounds_not_met --text "…"`}
		c.Flags().StringVar(&code, "reason", "", "refusal reason code (not_found, grounds_not_met, serious_hindrance_to_business, …)")
		c.Flags().StringVar(&text, "text", "", "explanation that goes into the notice")
		c.Flags().BoolVar(&partial, "partial", false, "refuse in part")
		add(c, func(r string) (staff.Action, error) { return staff.Refuse(r, code, text, partial), nil })
	}
	{
		var approve, reject bool
		var reason string
		c := &cobra.Command{Use: "review-identity RECEIPT", Short: "Settle an identity review (agent filings, mismatched details)"}
		c.Flags().BoolVar(&approve, "approve", false, "the identity (and any agent's authority) is confirmed")
		c.Flags().BoolVar(&reject, "reject", false, "it is not: the request is closed with a notice")
		c.Flags().StringVar(&reason, "reason", "", "why (required to reject; goes into the notice)")
		add(c, func(r string) (staff.Action, error) {
			if approve == reject {
				return staff.Action{}, errors.New("give exactly one of --approve or --reject")
			}
			return staff.ReviewIdentity(r, approve, reason), nil
		})
	}
	{
		var ref string
		var amount int64
		c := &cobra.Command{Use: "fee-paid RECEIPT", Short: "Record payment of the fee (awaiting_fee)"}
		c.Flags().StringVar(&ref, "reference", "", "payment reference")
		c.Flags().Int64Var(&amount, "amount", 0, "amount received in JPY (checked against the fee)")
		add(c, func(r string) (staff.Action, error) { return staff.FeePaid(r, ref, amount), nil })
	}
	{
		var reason string
		c := &cobra.Command{Use: "extend RECEIPT", Short: "Extend the due date once, with the reason for the notice"}
		c.Flags().StringVar(&reason, "reason", "", "why (goes into the notice to the person)")
		add(c, func(r string) (staff.Action, error) { return staff.Extend(r, reason), nil })
	}
	{
		var company, note string
		var proceed, decline bool
		c := &cobra.Command{Use: "entrusted RECEIPT", Short: "Record the entrusting company's (委託元) instruction"}
		c.Flags().StringVar(&company, "company", "", "entrusting company id (see `dsrctl show`)")
		c.Flags().BoolVar(&proceed, "proceed", false, "the company instructs us to act on its records")
		c.Flags().BoolVar(&decline, "decline", false, "the company instructs us not to")
		c.Flags().StringVar(&note, "note", "", "how and when the instruction came")
		add(c, func(r string) (staff.Action, error) {
			if proceed == decline {
				return staff.Action{}, errors.New("give exactly one of --proceed or --decline")
			}
			return staff.Entrusted(r, company, proceed, note), nil
		})
	}
	{
		var holder, reason string
		c := &cobra.Command{Use: "retry-holder RECEIPT", Short: "Resend the command to a holder that has not answered (e.g. escalated)"}
		c.Flags().StringVar(&holder, "holder", "", "holder name (see `dsrctl show`)")
		c.Flags().StringVar(&reason, "reason", "", "why (recorded in the audit log)")
		add(c, func(r string) (staff.Action, error) { return staff.RetryHolder(r, holder, reason), nil })
	}
	{
		var reason string
		c := &cobra.Command{Use: "close-withdrawn RECEIPT", Short: "Close as withdrawn on the person's behalf (e.g. withdrew by phone)"}
		c.Flags().StringVar(&reason, "reason", "", "how the withdrawal came")
		add(c, func(r string) (staff.Action, error) { return staff.CloseWithdrawn(r, reason), nil })
	}
	return cmds
}

// --- accounts (operators, with the staff database's credentials) ---

func operator() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "operator:" + u.Username
	}
	return "operator"
}

func (a *app) staffCmd() *cobra.Command {
	c := &cobra.Command{Use: "staff", Short: "Manage staff accounts (operators; needs the staff database)"}
	open := func(cmd *cobra.Command) (*staff.Store, func(), error) {
		if a.conn.StaffDatabaseURL == "" {
			return nil, nil, fail(ExitUsage, errors.New("STAFF_DATABASE_URL (or --staff-db) is required"))
		}
		st, closeFn, err := a.env.OpenStore(cmd.Context(), a.conn.StaffDatabaseURL)
		if err != nil {
			return nil, nil, fail(ExitError, err)
		}
		return st, closeFn, nil
	}
	record := func(cmd *cobra.Command, st *staff.Store, action, id string, fields map[string]any) error {
		if fields == nil {
			fields = map[string]any{}
		}
		fields["account"] = id
		_, err := st.Append(cmd.Context(), staff.AuditEntry{Actor: operator(), Action: action, Fields: fields, Result: staff.Accepted})
		return err
	}
	var name, role string
	add := &cobra.Command{Use: "add ID", Short: "Create an account and print its token (shown once)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, closeFn, err := open(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			tok, err := st.CreateAccount(cmd.Context(), args[0], name, staff.Role(role))
			if err != nil {
				return fail(ExitError, err)
			}
			if err := record(cmd, st, "staff.add", args[0], map[string]any{"role": role}); err != nil {
				return fail(ExitError, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "account %s (%s) created. Its token, shown only now:\n%s\n", args[0], role, tok)
			return nil
		}}
	add.Flags().StringVar(&name, "name", "", "display name")
	add.Flags().StringVar(&role, "role", string(staff.RoleStaff), "staff (read and act) or viewer (read only)")
	_ = add.MarkFlagRequired("name")

	setDisabled := func(use, short string, disabled bool) *cobra.Command {
		return &cobra.Command{Use: use + " ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				st, closeFn, err := open(cmd)
				if err != nil {
					return err
				}
				defer closeFn()
				if err := st.SetDisabled(cmd.Context(), args[0], disabled); err != nil {
					return fail(ExitError, err)
				}
				if err := record(cmd, st, "staff."+use, args[0], nil); err != nil {
					return fail(ExitError, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "account %s %sd\n", args[0], use)
				return nil
			}}
	}
	rotate := &cobra.Command{Use: "rotate ID", Short: "Replace an account's token and print the new one", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, closeFn, err := open(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			tok, err := st.RotateToken(cmd.Context(), args[0])
			if err != nil {
				return fail(ExitError, err)
			}
			if err := record(cmd, st, "staff.rotate", args[0], nil); err != nil {
				return fail(ExitError, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new token for %s, shown only now:\n%s\n", args[0], tok)
			return nil
		}}
	list := &cobra.Command{Use: "list", Short: "List accounts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, closeFn, err := open(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			accts, err := st.Accounts(cmd.Context())
			if err != nil {
				return fail(ExitError, err)
			}
			printAccounts(cmd.OutOrStdout(), accts)
			return nil
		}}
	c.AddCommand(add, setDisabled("disable", "Disable an account (its token and sessions stop working)", true),
		setDisabled("enable", "Enable a disabled account", false), rotate, list)
	return c
}
