package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/services/staff"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

func TestStaffAccountCommandsPrintTheTokenOnceAndAreAudited(t *testing.T) {
	dsn := testinfra.Database(t, "t_dsrctl")
	env := map[string]string{"STAFF_DATABASE_URL": dsn}
	code, out, errs := run(t, &fake{}, env, "staff", "add", "tanaka", "--name", "田中 (個人情報窓口)", "--role", "viewer")
	if code != ExitOK {
		t.Fatalf("staff add: %d %s", code, errs)
	}
	token := regexp.MustCompile(staff.TokenPrefix + `\S+`).FindString(out)
	if token == "" {
		t.Fatalf("no token printed:\n%s", out)
	}
	st, closeFn, err := OpenStore(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	if a, err := st.Authenticate(context.Background(), token); err != nil || a.ID != "tanaka" || a.Role != staff.RoleViewer {
		t.Fatalf("printed token authenticates as %+v, %v", a, err)
	}
	if code, _, _ := run(t, &fake{}, env, "staff", "disable", "tanaka"); code != ExitOK {
		t.Fatalf("staff disable: %d", code)
	}
	if _, err := st.Authenticate(context.Background(), token); err == nil {
		t.Error("a disabled account still authenticates")
	}
	code, out, _ = run(t, &fake{}, env, "staff", "list")
	if code != ExitOK || !strings.Contains(out, "tanaka") || !strings.Contains(out, "disabled") || strings.Contains(out, token) {
		t.Errorf("staff list: %d\n%s", code, out)
	}
	rows, err := st.Audit(context.Background(), staff.AuditFilter{})
	if err != nil || len(rows) != 2 || rows[1].Action != "staff.add" || rows[0].Action != "staff.disable" ||
		!strings.HasPrefix(rows[0].Actor, "operator") {
		t.Errorf("audit rows = %+v, %v", rows, err)
	}
	if code, _, _ := run(t, &fake{}, nil, "staff", "list"); code != ExitUsage {
		t.Errorf("staff list without a database: %d, want usage error", code)
	}
}
