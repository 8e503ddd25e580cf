package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// Database is mysql:index/database:Database. ID: the database name (as the
// official provider).
type Database struct{}

type DatabaseArgs struct {
	Name                string `pulumi:"name,optional"`
	DefaultCharacterSet string `pulumi:"defaultCharacterSet,optional"`
	DefaultCollation    string `pulumi:"defaultCollation,optional"`
}

type DatabaseState struct {
	Name                string `pulumi:"name"`
	DefaultCharacterSet string `pulumi:"defaultCharacterSet,optional"`
	DefaultCollation    string `pulumi:"defaultCollation,optional"`
}

// Documented defaults of the official provider.
const (
	defaultCharset   = "utf8"
	defaultCollation = "utf8_general_ci"
)

func (d *Database) Annotate(a infer.Annotator) {
	a.SetToken("index/database", "Database")
	a.Describe(d, "Creates and manages a database on a MySQL server.")
}

func (d *DatabaseArgs) Annotate(a infer.Annotator) {
	a.Describe(&d.Name, "The name of the database. Changing it replaces the database. "+
		"Defaults to the resource name plus a random suffix.")
	a.Describe(&d.DefaultCharacterSet, `The default character set. Defaults to "utf8".`)
	a.Describe(&d.DefaultCollation, `The default collation. Defaults to "utf8_general_ci" when the character `+
		`set is utf8, otherwise to the server's default collation of that character set.`)
}

func (d *DatabaseState) Annotate(a infer.Annotator) {
	a.Describe(&d.Name, "The name of the database.")
	a.Describe(&d.DefaultCharacterSet, "The default character set.")
	a.Describe(&d.DefaultCollation, "The default collation.")
}

// Check applies the documented defaults and auto-names the database like
// Pulumi's bridged providers (name-<7 hex>), keeping a previous name stable.
func (*Database) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[DatabaseArgs], error) {
	in := req.NewInputs
	if _, ok := in.GetOk("name"); !ok {
		if old, ok := req.OldInputs.GetOk("name"); ok && old.IsString() {
			in = in.Set("name", old)
		} else {
			in = in.Set("name", property.New(req.Name+"-"+randomHex(7)))
		}
	}
	args, failures, err := infer.DefaultCheck[DatabaseArgs](ctx, in)
	if err != nil {
		return infer.CheckResponse[DatabaseArgs]{}, err
	}
	if args.DefaultCharacterSet == "" && !isComputed(in, "defaultCharacterSet") {
		args.DefaultCharacterSet = defaultCharset
	}
	// The documented default collation belongs to utf8; for another character
	// set (only) the server picks that set's default, instead of failing.
	if args.DefaultCollation == "" && !isComputed(in, "defaultCollation") && isUTF8(args.DefaultCharacterSet) {
		args.DefaultCollation = defaultCollation
	}
	if len(args.Name) > 64 || strings.ContainsRune(args.Name, 0) {
		failures = append(failures, p.CheckFailure{Property: "name", Reason: "must be at most 64 characters without NUL"})
	}
	if err := checkWord("character set", args.DefaultCharacterSet); err != nil {
		failures = append(failures, p.CheckFailure{Property: "defaultCharacterSet", Reason: err.Error()})
	}
	if err := checkWord("collation", args.DefaultCollation); err != nil {
		failures = append(failures, p.CheckFailure{Property: "defaultCollation", Reason: err.Error()})
	}
	return infer.CheckResponse[DatabaseArgs]{Inputs: args, Failures: failures}, nil
}

func (*Database) Diff(ctx context.Context, req infer.DiffRequest[DatabaseArgs, DatabaseState]) (infer.DiffResponse, error) {
	diff := map[string]p.PropertyDiff{}
	if req.Inputs.Name != req.State.Name {
		diff["name"] = p.PropertyDiff{Kind: p.UpdateReplace}
	}
	if !sameCharsetName(req.Inputs.DefaultCharacterSet, req.State.DefaultCharacterSet) {
		diff["defaultCharacterSet"] = p.PropertyDiff{Kind: p.Update}
	}
	// An empty collation means "the character set's default": nothing to compare.
	if req.Inputs.DefaultCollation != "" && !sameCharsetName(req.Inputs.DefaultCollation, req.State.DefaultCollation) {
		diff["defaultCollation"] = p.PropertyDiff{Kind: p.Update}
	}
	return infer.DiffResponse{HasChanges: len(diff) > 0, DetailedDiff: diff}, nil
}

func (*Database) Create(ctx context.Context, req infer.CreateRequest[DatabaseArgs]) (infer.CreateResponse[DatabaseState], error) {
	in := req.Inputs
	state := DatabaseState(in)
	if req.DryRun {
		return infer.CreateResponse[DatabaseState]{ID: in.Name, Output: state}, nil
	}
	s, err := connect(ctx)
	if err != nil {
		return infer.CreateResponse[DatabaseState]{}, err
	}
	defer s.Close()
	stmt := "CREATE DATABASE " + quoteIdent(in.Name) + charsetClause(in.DefaultCharacterSet, in.DefaultCollation)
	if err := s.exec(ctx, fmt.Sprintf("creating database %q", in.Name), stmt); err != nil {
		return infer.CreateResponse[DatabaseState]{}, err
	}
	state, _, err = readDatabase(ctx, s, in.Name, state)
	return infer.CreateResponse[DatabaseState]{ID: in.Name, Output: state}, err
}

func (*Database) Update(ctx context.Context, req infer.UpdateRequest[DatabaseArgs, DatabaseState]) (infer.UpdateResponse[DatabaseState], error) {
	in := req.Inputs
	state := DatabaseState(in)
	if req.DryRun {
		if state.DefaultCollation == "" {
			state.DefaultCollation = req.State.DefaultCollation // unknown until applied
		}
		return infer.UpdateResponse[DatabaseState]{Output: state}, nil
	}
	s, err := connect(ctx)
	if err != nil {
		return infer.UpdateResponse[DatabaseState]{}, err
	}
	defer s.Close()
	stmt := "ALTER DATABASE " + quoteIdent(in.Name) + charsetClause(in.DefaultCharacterSet, in.DefaultCollation)
	if err := s.exec(ctx, fmt.Sprintf("altering database %q", in.Name), stmt); err != nil {
		return infer.UpdateResponse[DatabaseState]{}, err
	}
	state, _, err = readDatabase(ctx, s, in.Name, state)
	return infer.UpdateResponse[DatabaseState]{Output: state}, err
}

func (*Database) Read(ctx context.Context, req infer.ReadRequest[DatabaseArgs, DatabaseState]) (infer.ReadResponse[DatabaseArgs, DatabaseState], error) {
	name := req.State.Name
	if name == "" { // import: only the ID is known
		name = req.ID
	}
	s, err := connect(ctx)
	if err != nil {
		return infer.ReadResponse[DatabaseArgs, DatabaseState]{}, err
	}
	defer s.Close()
	prev := req.State
	prev.Name = name
	state, found, err := readDatabase(ctx, s, name, prev)
	if err != nil || !found {
		return infer.ReadResponse[DatabaseArgs, DatabaseState]{}, err
	}
	inputs := req.Inputs
	if inputs.Name == "" {
		inputs = DatabaseArgs(state)
	}
	return infer.ReadResponse[DatabaseArgs, DatabaseState]{ID: name, Inputs: inputs, State: state}, nil
}

func (*Database) Delete(ctx context.Context, req infer.DeleteRequest[DatabaseState]) (infer.DeleteResponse, error) {
	s, err := connect(ctx)
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	defer s.Close()
	return infer.DeleteResponse{}, s.exec(ctx, fmt.Sprintf("dropping database %q", req.State.Name),
		"DROP DATABASE IF EXISTS "+quoteIdent(req.State.Name))
}

// readDatabase fetches the character set and collation of name. Values that
// only differ by alias (utf8 vs utf8mb3) keep the spelling of prev, so that
// a refresh does not produce a diff.
func readDatabase(ctx context.Context, s *session, name string, prev DatabaseState) (DatabaseState, bool, error) {
	var cs, coll string
	err := s.db.QueryRowContext(ctx,
		"SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
		name).Scan(&cs, &coll)
	if errors.Is(err, sql.ErrNoRows) {
		return prev, false, nil
	}
	if err != nil {
		return prev, false, fmt.Errorf("mysql: reading database %q: %w", name, err)
	}
	out := DatabaseState{Name: name, DefaultCharacterSet: cs, DefaultCollation: coll}
	if sameCharsetName(prev.DefaultCharacterSet, cs) {
		out.DefaultCharacterSet = prev.DefaultCharacterSet
	}
	if sameCharsetName(prev.DefaultCollation, coll) {
		out.DefaultCollation = prev.DefaultCollation
	}
	return out, true, nil
}

// charsetClause renders the (pre-validated) character set and collation.
func charsetClause(cs, coll string) string {
	out := ""
	if cs != "" {
		out += " DEFAULT CHARACTER SET " + cs
	}
	if coll != "" {
		out += " DEFAULT COLLATE " + coll
	}
	return out
}

// canonCharsetName maps the utf8/utf8mb3 aliases (and their collations) to
// one spelling: MariaDB 10.6+ and MySQL 8.0.30+ report utf8 as utf8mb3.
func canonCharsetName(v string) string {
	v = strings.ToLower(v)
	if v == "utf8" || strings.HasPrefix(v, "utf8_") {
		return "utf8mb3" + v[len("utf8"):]
	}
	return v
}

func sameCharsetName(a, b string) bool { return canonCharsetName(a) == canonCharsetName(b) }

func isUTF8(cs string) bool { return canonCharsetName(cs) == "utf8mb3" }

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// isComputed reports whether key is an unknown (preview) value.
func isComputed(m property.Map, key string) bool {
	v, ok := m.GetOk(key)
	return ok && v.IsComputed()
}
