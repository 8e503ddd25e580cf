package main

import (
	"slices"
	"testing"
)

func TestParseGrantLine(t *testing.T) {
	cases := []struct {
		line      string
		on        bool
		items     []string
		db, table string
		withGrant bool
	}{
		// MariaDB 10.11
		{"GRANT SELECT, INSERT ON `we``ird db`.* TO `o'b`@`%` WITH GRANT OPTION", true, []string{"SELECT", "INSERT"}, "we`ird db", "*", true},
		{"GRANT SELECT (`a`, `b`), UPDATE ON `d`.`t` TO `u`@`%`", true, []string{"SELECT (A, B)", "UPDATE"}, "d", "t", false},
		{"GRANT ALL PRIVILEGES ON `x\\\\_y`.* TO `u`@`%`", true, []string{"ALL PRIVILEGES"}, `x\\_y`, "*", false},
		{"GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*D82'", true, []string{"USAGE"}, "*", "*", false},
		{"GRANT `r1` TO `o'b`@`%` WITH ADMIN OPTION", false, []string{"r1"}, "", "", true},
		// MySQL 8
		{"GRANT `reader`@`%`,`writer`@`%` TO `app`@`%`", false, []string{"reader", "writer"}, "", "", false},
		{"GRANT SELECT, INSERT ON `mail`.* TO `app`@`%`", true, []string{"SELECT", "INSERT"}, "mail", "*", false},
	}
	for _, c := range cases {
		l, ok := parseGrantLine(c.line)
		if !ok || l.on != c.on || !slices.Equal(l.items, c.items) || l.db != c.db || l.table != c.table || l.withGrant != c.withGrant {
			t.Errorf("%s\n got %+v ok=%v", c.line, l, ok)
		}
	}
	if _, ok := parseGrantLine("GRANT PROXY ON ''@'%' TO 'root'@'localhost'"); ok {
		t.Error("PROXY line parsed as an object grant")
	}
	if l, _ := parseGrantLine("GRANT ALL PRIVILEGES ON `x\\\\_y`.* TO `u`@`%`"); !l.matches(`x\_y`, "*") {
		t.Error("doubled backslash in database name not matched")
	}
}

func TestQuoting(t *testing.T) {
	s := &session{}
	if got := s.lit(`a'b\c` + "\n\x00"); got != `'a\'b\\c\n\0'` {
		t.Errorf("lit: %s", got)
	}
	s.noBackslashEscapes = true
	if got := s.lit(`a'b\c`); got != `'a''b\c'` {
		t.Errorf("lit (NO_BACKSLASH_ESCAPES): %s", got)
	}
	if got := quoteIdent("a`b"); got != "`a``b`" {
		t.Errorf("quoteIdent: %s", got)
	}
	for in, want := range map[string]string{
		"select":                     "SELECT",
		"  create  temporary tables": "CREATE TEMPORARY TABLES",
		"SELECT (a, `b``c`)":         "SELECT (`a`, `b``c`)",
	} {
		if got, err := privilegeSQL(in); err != nil || got != want {
			t.Errorf("privilegeSQL(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"SELECT; DROP TABLE x", "SELECT ON *.* TO x --", "SELECT (a) (b)", ""} {
		if got, err := privilegeSQL(bad); err == nil {
			t.Errorf("privilegeSQL(%q) accepted: %q", bad, got)
		}
	}
	if normPriv("all") != "ALL PRIVILEGES" || normPriv("select (`a`,b)") != "SELECT (A, B)" {
		t.Error("normPriv")
	}
}
