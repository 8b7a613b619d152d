package readable

import "testing"

func TestAnExportReadsAsLabelledFieldsAndTables(t *testing.T) {
	n := Shape("ja", []byte(`{"members":[{"member_id":"M-1","email":"a@example.jp"},{"member_id":"M-2","email":""}],
		"registered_at":"2026-12-06T23:30:00Z","use_suspended":true,"note":null}`))
	if len(n.Fields) != 4 {
		t.Fatalf("fields = %+v", n.Fields)
	}
	members := n.Fields[0]
	if members.Label != "会員" || len(members.Value.Rows) != 2 || members.Value.Columns[0] != "メールアドレス" ||
		members.Value.Keys[1] != "member_id" {
		t.Errorf("members = %+v", members)
	}
	if got := members.Value.Rows[1][0]; !got.Empty || got.Scalar != "(なし)" {
		t.Errorf("an empty e-mail reads %+v", got)
	}
	if got := n.Fields[2]; got.Label != "登録日時" || got.Value.Scalar != "2026年12月7日(月) 08:30" {
		t.Errorf("a timestamp reads %+v", got)
	}
	if got := n.Fields[3].Value.Scalar; got != "はい" {
		t.Errorf("true reads %q", got)
	}
	if got := Shape("en", []byte(`{"member_id":"M-1"}`)).Fields[0].Label; got != "Member id" {
		t.Errorf("English label %q", got)
	}
	if got := Shape("ja", []byte("not json")).Scalar; got != "not json" {
		t.Errorf("a non-JSON document reads %q", got)
	}
}
