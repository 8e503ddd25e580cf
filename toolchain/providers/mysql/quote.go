package main

import (
	"fmt"
	"regexp"
	"strings"
)

// MySQL accepts placeholders only for data values, not in account names,
// identifiers or passwords of DDL/DCL statements (CREATE USER, GRANT, ...).
// Those are therefore quoted here: identifiers with backticks, strings as
// literals escaped according to the session's sql_mode.

// quoteIdent quotes a schema/table/column/role name with backticks.
func quoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// quoteObject renders the object part of `db`.`table`, where "*" stays a
// wildcard (ON *.* / ON `db`.*).
func quoteObject(name string) string {
	if name == "*" {
		return "*"
	}
	return quoteIdent(name)
}

// lit quotes v as a string literal.
func (s *session) lit(v string) string {
	if s.noBackslashEscapes {
		// Backslash is an ordinary character; only the quote needs doubling.
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range v {
		switch r {
		case 0:
			b.WriteString(`\0`)
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// account renders 'user'@'host'.
func (s *session) account(user, host string) string {
	return s.lit(user) + "@" + s.lit(host)
}

var (
	wordRe    = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	privRe    = regexp.MustCompile(`^([A-Za-z][A-Za-z_ ]*?)\s*(?:\(([^()]*)\))?$`)
	tlsOptRe  = regexp.MustCompile(`^(?i:NONE|SSL|X509)$`)
	spacesRe  = regexp.MustCompile(`\s+`)
	pluginMsg = "must consist of letters, digits and underscores"
)

// checkWord validates names that MySQL takes as bare words (character sets,
// collations, authentication plugins).
func checkWord(what, v string) error {
	if v != "" && !wordRe.MatchString(v) {
		return fmt.Errorf("%s %q %s", what, v, pluginMsg)
	}
	return nil
}

// checkTLSOption validates a REQUIRE clause value. The official provider
// splices it verbatim; only the keyword forms are accepted here so that no
// unvalidated text reaches the server.
func checkTLSOption(v string) error {
	if v != "" && !tlsOptRe.MatchString(v) {
		return fmt.Errorf(`tlsOption %q is not supported (use "NONE", "SSL" or "X509")`, v)
	}
	return nil
}

// privilegeSQL renders one privilege such as "select" or "SELECT (a, `b`)"
// as safe SQL: the keyword part is validated, column names are re-quoted.
func privilegeSQL(priv string) (string, error) {
	m := privRe.FindStringSubmatch(strings.TrimSpace(priv))
	if m == nil {
		return "", fmt.Errorf("invalid privilege %q", priv)
	}
	out := strings.ToUpper(spacesRe.ReplaceAllString(strings.TrimSpace(m[1]), " "))
	if m[2] != "" {
		var cols []string
		for _, c := range strings.Split(m[2], ",") {
			c = strings.TrimSpace(c)
			if len(c) >= 2 && c[0] == '`' && c[len(c)-1] == '`' {
				c = strings.ReplaceAll(c[1:len(c)-1], "``", "`")
			}
			if c == "" {
				return "", fmt.Errorf("invalid privilege %q: empty column name", priv)
			}
			cols = append(cols, quoteIdent(c))
		}
		out += " (" + strings.Join(cols, ", ") + ")"
	}
	return out, nil
}

// normPriv canonicalises a privilege for comparison with SHOW GRANTS output.
func normPriv(priv string) string {
	s := strings.ToUpper(strings.TrimSpace(priv))
	s = strings.ReplaceAll(s, "`", "")
	if i := strings.Index(s, "("); i >= 0 {
		head := spacesRe.ReplaceAllString(strings.TrimSpace(s[:i]), " ")
		cols := strings.ReplaceAll(spacesRe.ReplaceAllString(s[i:], ""), ",", ", ")
		s = head + " " + cols
	} else {
		s = spacesRe.ReplaceAllString(s, " ")
	}
	if s == "ALL" {
		s = "ALL PRIVILEGES"
	}
	return s
}
