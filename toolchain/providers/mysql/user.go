package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
)

// User is mysql:index/user:User. ID: "user@host" (as the official provider).
type User struct{}

type UserArgs struct {
	User              string `pulumi:"user"`
	Host              string `pulumi:"host,optional"`
	PlaintextPassword string `pulumi:"plaintextPassword,optional" provider:"secret"`
	Password          string `pulumi:"password,optional" provider:"secret"`
	AuthPlugin        string `pulumi:"authPlugin,optional"`
	TLSOption         string `pulumi:"tlsOption,optional"`
}

// UserState mirrors the official state: plaintextPassword holds the unsalted
// SHA-256 of the password (hex), the deprecated password the plain value.
type UserState struct {
	User              string `pulumi:"user"`
	Host              string `pulumi:"host,optional"`
	PlaintextPassword string `pulumi:"plaintextPassword,optional" provider:"secret"`
	Password          string `pulumi:"password,optional" provider:"secret"`
	AuthPlugin        string `pulumi:"authPlugin,optional"`
	TLSOption         string `pulumi:"tlsOption,optional"`
}

func (u *User) Annotate(a infer.Annotator) {
	a.SetToken("index/user", "User")
	a.Describe(u, "Creates and manages a user on a MySQL server.")
}

func (u *UserArgs) Annotate(a infer.Annotator) {
	a.Describe(&u.User, "The name of the user. Changing it replaces the user.")
	a.Describe(&u.Host, `The source host of the user. Defaults to "localhost". Changing it replaces the user.`)
	a.Describe(&u.PlaintextPassword, "The password for the user; an unsalted SHA-256 hash of it is stored in state. "+
		"Conflicts with authPlugin.")
	a.Describe(&u.Password, "Deprecated alias of plaintextPassword, stored as plaintext in state.")
	a.Deprecate(&u.Password, "Please use plaintextPassword instead")
	a.Describe(&u.AuthPlugin, "Authentication plugin to use instead of a password (IDENTIFIED WITH). "+
		"Changing it replaces the user.")
	a.Describe(&u.TLSOption, `REQUIRE option for CREATE/ALTER USER: "NONE" (default), "SSL" or "X509".`)
}

func (u *UserState) Annotate(a infer.Annotator) {
	a.Describe(&u.PlaintextPassword, "Unsalted SHA-256 hash (hex) of the password.")
	a.Deprecate(&u.Password, "Please use plaintextPassword instead")
}

func hashPassword(pw string) string {
	if pw == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(pw))
	return hex.EncodeToString(sum[:])
}

func (*User) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[UserArgs], error) {
	args, failures, err := infer.DefaultCheck[UserArgs](ctx, req.NewInputs)
	if err != nil {
		return infer.CheckResponse[UserArgs]{}, err
	}
	if args.Host == "" && !isComputed(req.NewInputs, "host") {
		args.Host = "localhost"
	}
	if args.TLSOption == "" && !isComputed(req.NewInputs, "tlsOption") {
		args.TLSOption = "NONE"
	}
	fail := func(prop, reason string) {
		failures = append(failures, p.CheckFailure{Property: prop, Reason: reason})
	}
	if args.PlaintextPassword != "" && args.Password != "" {
		fail("password", "conflicts with plaintextPassword")
	}
	if args.AuthPlugin != "" && (args.PlaintextPassword != "" || args.Password != "") {
		fail("authPlugin", "conflicts with password and plaintextPassword")
	}
	if err := checkWord("authPlugin", args.AuthPlugin); err != nil {
		fail("authPlugin", err.Error())
	}
	if err := checkTLSOption(args.TLSOption); err != nil {
		fail("tlsOption", err.Error())
	}
	return infer.CheckResponse[UserArgs]{Inputs: args, Failures: failures}, nil
}

func (*User) Diff(ctx context.Context, req infer.DiffRequest[UserArgs, UserState]) (infer.DiffResponse, error) {
	in, st := req.Inputs, req.State
	diff := map[string]p.PropertyDiff{}
	if in.User != st.User {
		diff["user"] = p.PropertyDiff{Kind: p.UpdateReplace}
	}
	if in.Host != st.Host {
		diff["host"] = p.PropertyDiff{Kind: p.UpdateReplace}
	}
	if in.AuthPlugin != st.AuthPlugin {
		diff["authPlugin"] = p.PropertyDiff{Kind: p.UpdateReplace}
	}
	if hashPassword(in.PlaintextPassword) != st.PlaintextPassword {
		diff["plaintextPassword"] = p.PropertyDiff{Kind: p.Update}
	}
	if in.Password != st.Password {
		diff["password"] = p.PropertyDiff{Kind: p.Update}
	}
	if !strings.EqualFold(in.TLSOption, st.TLSOption) {
		diff["tlsOption"] = p.PropertyDiff{Kind: p.Update}
	}
	_, replaceUser := diff["user"]
	_, replaceHost := diff["host"]
	_, replacePlugin := diff["authPlugin"]
	return infer.DiffResponse{
		HasChanges:   len(diff) > 0,
		DetailedDiff: diff,
		// Recreating the same account must drop the old one first.
		DeleteBeforeReplace: replacePlugin && !replaceUser && !replaceHost,
	}, nil
}

func userState(in UserArgs) UserState {
	return UserState{
		User: in.User, Host: in.Host, AuthPlugin: in.AuthPlugin, TLSOption: in.TLSOption,
		PlaintextPassword: hashPassword(in.PlaintextPassword), Password: in.Password,
	}
}

// effectivePassword merges plaintextPassword and its deprecated alias.
func effectivePassword(in UserArgs) string { return firstNonEmpty(in.PlaintextPassword, in.Password) }

// requireClause renders REQUIRE for CREATE/ALTER USER (value pre-validated).
func requireClause(tlsOption string) string {
	if tlsOption == "" {
		return ""
	}
	return " REQUIRE " + strings.ToUpper(tlsOption)
}

func (*User) Create(ctx context.Context, req infer.CreateRequest[UserArgs]) (infer.CreateResponse[UserState], error) {
	in := req.Inputs
	id := in.User + "@" + in.Host
	if req.DryRun {
		return infer.CreateResponse[UserState]{ID: id, Output: userState(in)}, nil
	}
	s, err := connect(ctx)
	if err != nil {
		return infer.CreateResponse[UserState]{}, err
	}
	defer s.Close()
	stmt := "CREATE USER " + s.account(in.User, in.Host)
	if in.AuthPlugin != "" {
		stmt += " IDENTIFIED WITH " + in.AuthPlugin
	} else if pw := effectivePassword(in); pw != "" {
		stmt += " IDENTIFIED BY " + s.lit(pw)
	}
	stmt += requireClause(in.TLSOption)
	if err := s.exec(ctx, fmt.Sprintf("creating user %q@%q", in.User, in.Host), stmt, effectivePassword(in)); err != nil {
		return infer.CreateResponse[UserState]{}, err
	}
	return infer.CreateResponse[UserState]{ID: id, Output: userState(in)}, nil
}

func (*User) Update(ctx context.Context, req infer.UpdateRequest[UserArgs, UserState]) (infer.UpdateResponse[UserState], error) {
	in, old := req.Inputs, req.State
	if req.DryRun {
		return infer.UpdateResponse[UserState]{Output: userState(in)}, nil
	}
	s, err := connect(ctx)
	if err != nil {
		return infer.UpdateResponse[UserState]{}, err
	}
	defer s.Close()
	acct := s.account(in.User, in.Host)
	what := fmt.Sprintf("altering user %q@%q", in.User, in.Host)
	if hashPassword(in.PlaintextPassword) != old.PlaintextPassword || in.Password != old.Password {
		pw := effectivePassword(in)
		if err := s.exec(ctx, what, "ALTER USER "+acct+" IDENTIFIED BY "+s.lit(pw), pw); err != nil {
			return infer.UpdateResponse[UserState]{}, err
		}
	}
	if !strings.EqualFold(in.TLSOption, old.TLSOption) && in.TLSOption != "" {
		if err := s.exec(ctx, what, "ALTER USER "+acct+requireClause(in.TLSOption)); err != nil {
			return infer.UpdateResponse[UserState]{}, err
		}
	}
	return infer.UpdateResponse[UserState]{Output: userState(in)}, nil
}

// sslTypeToTLSOption maps mysql.user.ssl_type to the REQUIRE keyword.
var sslTypeToTLSOption = map[string]string{"": "NONE", "ANY": "SSL", "X509": "X509"}

func (*User) Read(ctx context.Context, req infer.ReadRequest[UserArgs, UserState]) (infer.ReadResponse[UserArgs, UserState], error) {
	st, inputs := req.State, req.Inputs
	if st.User == "" { // import by ID "user@host"
		i := strings.LastIndex(req.ID, "@")
		if i < 0 {
			return infer.ReadResponse[UserArgs, UserState]{}, fmt.Errorf("mysql: user ID %q is not of the form user@host", req.ID)
		}
		st.User, st.Host = req.ID[:i], req.ID[i+1:]
	}
	s, err := connect(ctx)
	if err != nil {
		return infer.ReadResponse[UserArgs, UserState]{}, err
	}
	defer s.Close()
	var sslType string
	err = s.db.QueryRowContext(ctx, "SELECT ssl_type FROM mysql.user WHERE User = ? AND Host = ?",
		st.User, st.Host).Scan(&sslType)
	if errors.Is(err, sql.ErrNoRows) {
		return infer.ReadResponse[UserArgs, UserState]{}, nil // gone
	}
	if err != nil {
		return infer.ReadResponse[UserArgs, UserState]{}, fmt.Errorf("mysql: reading user %q@%q: %w", st.User, st.Host, err)
	}
	if opt, ok := sslTypeToTLSOption[strings.ToUpper(sslType)]; ok && !strings.EqualFold(opt, st.TLSOption) {
		st.TLSOption = opt // drift: next update re-applies the declared option
	}
	if inputs.User == "" {
		inputs = UserArgs{User: st.User, Host: st.Host, AuthPlugin: st.AuthPlugin, TLSOption: st.TLSOption}
	}
	return infer.ReadResponse[UserArgs, UserState]{ID: st.User + "@" + st.Host, Inputs: inputs, State: st}, nil
}

func (*User) Delete(ctx context.Context, req infer.DeleteRequest[UserState]) (infer.DeleteResponse, error) {
	s, err := connect(ctx)
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	defer s.Close()
	st := req.State
	return infer.DeleteResponse{}, s.exec(ctx, fmt.Sprintf("dropping user %q@%q", st.User, st.Host),
		"DROP USER IF EXISTS "+s.account(st.User, st.Host))
}
