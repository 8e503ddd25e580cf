package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
)

// Grant is mysql:index/grant:Grant. ID as the official provider:
// "user@host:`database`", or "role:`database`" for a role grantee.
// Every input forces replacement.
type Grant struct{}

type GrantArgs struct {
	User       string   `pulumi:"user,optional"`
	Host       string   `pulumi:"host,optional"`
	Role       string   `pulumi:"role,optional"`
	Database   string   `pulumi:"database"`
	Table      string   `pulumi:"table,optional"`
	Privileges []string `pulumi:"privileges,optional"`
	Roles      []string `pulumi:"roles,optional"`
	Grant      bool     `pulumi:"grant,optional"`
	TLSOption  string   `pulumi:"tlsOption,optional"`
}

func (g *Grant) Annotate(a infer.Annotator) {
	a.SetToken("index/grant", "Grant")
	a.Describe(g, "Creates and manages privileges given to a user or role on a MySQL server. "+
		"Any change replaces the grant (revoke, then grant).")
}

func (g *GrantArgs) Annotate(a infer.Annotator) {
	a.Describe(&g.User, "The name of the user. Conflicts with role.")
	a.Describe(&g.Host, `The source host of the user. Defaults to "localhost". Conflicts with role.`)
	a.Describe(&g.Role, "The role to grant privileges to. Conflicts with user and host.")
	a.Describe(&g.Database, `The database to grant privileges on ("*" for all).`)
	a.Describe(&g.Table, "Which table to grant privileges on. Defaults to *, which is all tables.")
	a.Describe(&g.Privileges, "A list of privileges to grant. Conflicts with roles.")
	a.Describe(&g.Roles, "A list of roles to grant. Conflicts with privileges.")
	a.Describe(&g.Grant, "Whether to also grant WITH GRANT OPTION (WITH ADMIN OPTION for roles).")
	a.Describe(&g.TLSOption, `REQUIRE option for the GRANT statement ("NONE" default); only used on MySQL before 8.0.`)
}

func (*Grant) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[GrantArgs], error) {
	in := req.NewInputs
	args, failures, err := infer.DefaultCheck[GrantArgs](ctx, in)
	if err != nil {
		return infer.CheckResponse[GrantArgs]{}, err
	}
	fail := func(prop, reason string) {
		failures = append(failures, p.CheckFailure{Property: prop, Reason: reason})
	}
	if args.Role == "" && args.Host == "" && !isComputed(in, "host") && !isComputed(in, "role") {
		args.Host = "localhost"
	}
	if args.Table == "" && !isComputed(in, "table") {
		args.Table = "*"
	}
	if args.TLSOption == "" && !isComputed(in, "tlsOption") {
		args.TLSOption = "NONE"
	}
	// Conflict checks only make sense once values are known.
	known := !isComputed(in, "user") && !isComputed(in, "role") && !isComputed(in, "privileges") && !isComputed(in, "roles")
	if known {
		if (args.Role != "") == (args.User != "") {
			fail("role", "exactly one of user or role must be set")
		}
		if (len(args.Privileges) > 0) == (len(args.Roles) > 0) {
			fail("privileges", "exactly one of privileges or roles must be set")
		}
	}
	for _, pr := range args.Privileges {
		if _, err := privilegeSQL(pr); err != nil {
			fail("privileges", err.Error())
		}
	}
	if err := checkTLSOption(args.TLSOption); err != nil {
		fail("tlsOption", err.Error())
	}
	return infer.CheckResponse[GrantArgs]{Inputs: args, Failures: failures}, nil
}

// Diff: every change replaces. The replacement deletes first: the new grant
// targets the same account and object, and revoking the old privileges after
// granting the new ones would take away privileges both have in common.
func (*Grant) Diff(ctx context.Context, req infer.DiffRequest[GrantArgs, GrantArgs]) (infer.DiffResponse, error) {
	in, st := req.Inputs, req.State
	diff := map[string]p.PropertyDiff{}
	for name, same := range map[string]bool{
		"user":       in.User == st.User,
		"host":       in.Host == st.Host,
		"role":       in.Role == st.Role,
		"database":   in.Database == st.Database,
		"table":      in.Table == st.Table,
		"privileges": samePrivileges(in.Privileges, st.Privileges),
		"roles":      sameSet(in.Roles, st.Roles, func(s string) string { return s }),
		"grant":      in.Grant == st.Grant,
		"tlsOption":  strings.EqualFold(in.TLSOption, st.TLSOption),
	} {
		if !same {
			diff[name] = p.PropertyDiff{Kind: p.UpdateReplace}
		}
	}
	return infer.DiffResponse{HasChanges: len(diff) > 0, DetailedDiff: diff, DeleteBeforeReplace: len(diff) > 0}, nil
}

func grantID(in GrantArgs) string {
	db := quoteObject(in.Database)
	if in.Role != "" {
		return in.Role + ":" + db
	}
	return in.User + "@" + in.Host + ":" + db
}

// grantee renders the account or role receiving the grant.
func (s *session) grantee(in GrantArgs) string {
	if in.Role != "" {
		return quoteIdent(in.Role)
	}
	return s.account(in.User, in.Host)
}

func privilegeList(privs []string) (string, error) {
	out := make([]string, 0, len(privs))
	for _, pr := range privs {
		q, err := privilegeSQL(pr)
		if err != nil {
			return "", err
		}
		out = append(out, q)
	}
	return strings.Join(out, ", "), nil
}

func roleList(roles []string) string {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		out = append(out, quoteIdent(r))
	}
	return strings.Join(out, ", ")
}

func (*Grant) Create(ctx context.Context, req infer.CreateRequest[GrantArgs]) (infer.CreateResponse[GrantArgs], error) {
	in := req.Inputs
	if req.DryRun {
		return infer.CreateResponse[GrantArgs]{ID: grantID(in), Output: in}, nil
	}
	s, err := connect(ctx)
	if err != nil {
		return infer.CreateResponse[GrantArgs]{}, err
	}
	defer s.Close()
	var stmt string
	if len(in.Roles) > 0 {
		stmt = "GRANT " + roleList(in.Roles) + " TO " + s.grantee(in)
		if in.Grant {
			stmt += " WITH ADMIN OPTION"
		}
	} else {
		privs, err := privilegeList(in.Privileges)
		if err != nil {
			return infer.CreateResponse[GrantArgs]{}, err
		}
		stmt = "GRANT " + privs + " ON " + quoteObject(in.Database) + "." + quoteObject(in.Table) + " TO " + s.grantee(in)
		// MySQL 8 rejects REQUIRE on GRANT and MariaDB treats it as ALTER USER;
		// like the official provider, only older MySQL gets it.
		if !s.mariaDB && s.major < 8 && in.TLSOption != "" && !strings.EqualFold(in.TLSOption, "NONE") {
			stmt += requireClause(in.TLSOption)
		}
		if in.Grant {
			stmt += " WITH GRANT OPTION"
		}
	}
	if err := s.exec(ctx, "granting to "+s.grantee(in), stmt); err != nil {
		return infer.CreateResponse[GrantArgs]{}, err
	}
	return infer.CreateResponse[GrantArgs]{ID: grantID(in), Output: in}, nil
}

func (*Grant) Delete(ctx context.Context, req infer.DeleteRequest[GrantArgs]) (infer.DeleteResponse, error) {
	st := req.State
	s, err := connect(ctx)
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	defer s.Close()
	var stmt string
	if len(st.Roles) > 0 {
		stmt = "REVOKE " + roleList(st.Roles) + " FROM " + s.grantee(st)
	} else {
		privs, err := privilegeList(st.Privileges)
		if err != nil {
			return infer.DeleteResponse{}, err
		}
		if st.Grant {
			privs += ", GRANT OPTION"
		}
		stmt = "REVOKE " + privs + " ON " + quoteObject(st.Database) + "." + quoteObject(st.Table) + " FROM " + s.grantee(st)
	}
	err = s.exec(ctx, "revoking from "+s.grantee(st), stmt)
	switch mysqlErrno(err) {
	case 1141, 1147, // no such grant (user or table level)
		1133, // no such user
		1962, // MariaDB: cannot revoke role (not granted)
		3523: // MySQL: unknown authorization ID
		err = nil // already gone
	}
	return infer.DeleteResponse{}, err
}

// Read re-reads SHOW GRANTS. A grant whose privileges/roles are all gone is
// reported as deleted; partly missing ones are dropped from state, so the
// next update replaces (re-grants) it.
func (*Grant) Read(ctx context.Context, req infer.ReadRequest[GrantArgs, GrantArgs]) (infer.ReadResponse[GrantArgs, GrantArgs], error) {
	st := req.State
	if st.Database == "" {
		return infer.ReadResponse[GrantArgs, GrantArgs]{}, fmt.Errorf("mysql: importing grants (ID %q) is not supported", req.ID)
	}
	s, err := connect(ctx)
	if err != nil {
		return infer.ReadResponse[GrantArgs, GrantArgs]{}, err
	}
	defer s.Close()
	lines, err := s.showGrants(ctx, s.grantee(st))
	if err != nil || lines == nil {
		return infer.ReadResponse[GrantArgs, GrantArgs]{}, err
	}
	if len(st.Roles) > 0 {
		var have []string
		for _, l := range lines {
			if !l.on {
				have = append(have, l.items...)
			}
		}
		kept := slices.DeleteFunc(slices.Clone(st.Roles), func(r string) bool { return !slices.Contains(have, r) })
		if len(kept) == 0 {
			return infer.ReadResponse[GrantArgs, GrantArgs]{}, nil
		}
		st.Roles = kept
	} else {
		var have []string
		grantOpt := false
		for _, l := range lines {
			if l.on && l.matches(st.Database, st.Table) {
				have = append(have, l.items...)
				grantOpt = grantOpt || l.withGrant
			}
		}
		// Only missing privileges count as drift: other grants (or other
		// Grant resources) on the same object may add privileges.
		all := slices.Contains(have, "ALL PRIVILEGES")
		kept := slices.DeleteFunc(slices.Clone(st.Privileges), func(pr string) bool {
			return !all && !slices.Contains(have, normPriv(pr))
		})
		if len(kept) == 0 {
			return infer.ReadResponse[GrantArgs, GrantArgs]{}, nil
		}
		st.Privileges = kept
		st.Grant = st.Grant && grantOpt
	}
	return infer.ReadResponse[GrantArgs, GrantArgs]{ID: req.ID, Inputs: req.Inputs, State: st}, nil
}

func sameSet(a, b []string, norm func(string) string) bool {
	na, nb := make([]string, len(a)), make([]string, len(b))
	for i, v := range a {
		na[i] = norm(v)
	}
	for i, v := range b {
		nb[i] = norm(v)
	}
	slices.Sort(na)
	slices.Sort(nb)
	return slices.Equal(slices.Compact(na), slices.Compact(nb))
}

func samePrivileges(a, b []string) bool { return sameSet(a, b, normPriv) }

// grantLine is one parsed line of SHOW GRANTS.
type grantLine struct {
	on        bool     // privilege grant (GRANT ... ON db.tbl TO ...) vs role grant
	items     []string // normalized privileges, or role names
	db, table string   // unquoted object, "*" for wildcards
	withGrant bool     // WITH GRANT OPTION / WITH ADMIN OPTION
}

// matches compares the object with the declared database/table. MariaDB
// prints backslashes in database names doubled, so compare that form too.
func (l grantLine) matches(db, table string) bool {
	return (l.db == db || strings.ReplaceAll(l.db, `\\`, `\`) == db) && l.table == table
}

// showGrants returns the parsed grants of grantee, or nil if it does not exist.
func (s *session) showGrants(ctx context.Context, grantee string) ([]grantLine, error) {
	rows, err := s.db.QueryContext(ctx, "SHOW GRANTS FOR "+grantee)
	if n := mysqlErrno(err); n == 1141 || n == 1133 || n == 1396 || n == 3523 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mysql: SHOW GRANTS FOR %s: %w", grantee, err)
	}
	defer rows.Close()
	lines := []grantLine{}
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			return nil, err
		}
		if l, ok := parseGrantLine(text); ok {
			lines = append(lines, l)
		}
	}
	return lines, rows.Err()
}

// parseGrantLine parses "GRANT <privs> ON <db>.<tbl> TO ..." and
// "GRANT <roles> TO ...". Anything else (PROXY, procedures) is skipped.
func parseGrantLine(text string) (grantLine, bool) {
	rest, ok := strings.CutPrefix(text, "GRANT ")
	if !ok {
		return grantLine{}, false
	}
	var l grantLine
	l.withGrant = strings.HasSuffix(text, " WITH GRANT OPTION") || strings.HasSuffix(text, " WITH ADMIN OPTION")
	// Split the head (privileges or roles) at the first top-level " ON " / " TO ".
	depth, inQuote := 0, false
	var head string
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c == '`':
			inQuote = !inQuote // `` inside a name toggles twice: harmless
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && strings.HasPrefix(rest[i:], " ON "):
			head, rest, l.on = rest[:i], rest[i+len(" ON "):], true
		case depth == 0 && strings.HasPrefix(rest[i:], " TO "):
			head, rest = rest[:i], rest[i:]
		default:
			continue
		}
		if head != "" {
			break
		}
	}
	if head == "" {
		return grantLine{}, false
	}
	for _, item := range splitTopLevel(head) {
		if l.on {
			l.items = append(l.items, normPriv(item))
		} else {
			name, _, _ := strings.Cut(item, "@") // MySQL 8 prints `role`@`%`
			l.items = append(l.items, unquoteIdent(strings.TrimSpace(name)))
		}
	}
	if l.on {
		var ok bool
		if l.db, rest, ok = cutObject(rest); !ok || !strings.HasPrefix(rest, ".") {
			return grantLine{}, false
		}
		if l.table, rest, ok = cutObject(rest[1:]); !ok || !strings.HasPrefix(rest, " TO ") {
			return grantLine{}, false
		}
	}
	return l, true
}

// splitTopLevel splits on commas outside parentheses and backticks.
func splitTopLevel(s string) []string {
	var out []string
	depth, inQuote, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '`':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// cutObject reads "*" or a backticked name from the start of s.
func cutObject(s string) (name, rest string, ok bool) {
	if strings.HasPrefix(s, "*") {
		return "*", s[1:], true
	}
	if !strings.HasPrefix(s, "`") {
		return "", s, false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] == '`' {
			if i+1 < len(s) && s[i+1] == '`' {
				b.WriteByte('`')
				i++
				continue
			}
			return b.String(), s[i+1:], true
		}
		b.WriteByte(s[i])
	}
	return "", s, false
}

func unquoteIdent(s string) string {
	if name, rest, ok := cutObject(s); ok && rest == "" && name != "*" {
		return name
	}
	return s
}
