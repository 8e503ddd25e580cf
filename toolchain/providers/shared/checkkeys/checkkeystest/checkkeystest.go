// Package checkkeystest has the helpers with which a plugin's tests show that
// its real provider rejects unknown keys (checkkeys.RejectUnknownKeys) and
// accepts every key of its own schema.
package checkkeystest

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// ResourceName is the name of the resource Check runs for: failures name
// paths under it ('res.<path>').
const ResourceName = "res"

// URN is the URN of the resource of type tok named name.
func URN(tok, name string) presource.URN {
	return presource.URN("urn:pulumi:test::test::" + tok + "::" + name)
}

// Check runs srv's Check on the inputs of a resource of type tok named
// ResourceName and returns the failures.
func Check(t testing.TB, srv integration.Server, tok string, in property.Map) []p.CheckFailure {
	t.Helper()
	resp, err := srv.Check(p.CheckRequest{Urn: URN(tok, ResourceName), Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Failures
}

// WantUnknownKeys asserts that failures are exactly the bridge's unknown-key
// failures for paths (in order), with the path in the reason and no
// property, as the official providers report them.
func WantUnknownKeys(t testing.TB, failures []p.CheckFailure, paths ...string) {
	t.Helper()
	if len(failures) != len(paths) {
		t.Fatalf("want %d unknown-key failures %v, got %+v", len(paths), paths, failures)
	}
	for i, path := range paths {
		want := "Invalid or unknown key. Examine values at '" + ResourceName + "." + path + "'."
		if failures[i].Reason != want || failures[i].Property != "" {
			t.Errorf("failure %d = %+v, want reason %q and no property", i, failures[i], want)
		}
	}
}

// AcceptsEveryKnownKey asserts that every input property of every resource
// in srv's schema, and every property of the objects nested in them, passes
// Check, with unknown leaves (as in a preview) and with known ones; the
// resource's own Check (whose decoder also rejects unrecognized fields)
// agrees. The schema is read here on its own, not by the code under test.
func AcceptsEveryKnownKey(t *testing.T, srv integration.Server) {
	t.Helper()
	resp, err := srv.GetSchema(p.GetSchemaRequest{Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	var s schema
	if err := json.Unmarshal([]byte(resp.Schema), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Resources) == 0 {
		t.Fatal("schema has no resources")
	}
	var toks []string
	for tok := range s.Resources {
		toks = append(toks, tok)
	}
	sort.Strings(toks)
	for _, tok := range toks {
		for name, leaf := range map[string]func(*spec) property.Value{"unknown": unknownLeaf, "known": knownLeaf} {
			in := s.everyKeyMap(s.Resources[tok].InputProperties, leaf, 0)
			resp, err := srv.Check(p.CheckRequest{Urn: URN(tok, "all"), Inputs: in})
			if err != nil {
				t.Errorf("%s (%s leaves): check error: %v", tok, name, err)
				continue
			}
			if f := keyFailures(resp.Failures); len(f) > 0 {
				t.Errorf("%s (%s leaves): known keys rejected: %+v\ninputs: %v", tok, name, f, in)
			}
		}
		t.Logf("%s: %d input properties, %d object types in the schema", tok,
			len(s.Resources[tok].InputProperties), len(s.Types))
	}
}

// schema is the part of a Pulumi package schema that says which keys an
// input may have.
type schema struct {
	Resources map[string]struct {
		InputProperties map[string]*spec `json:"inputProperties"`
	} `json:"resources"`
	Types map[string]struct {
		Type       string           `json:"type"`
		Properties map[string]*spec `json:"properties"`
	} `json:"types"`
}

type spec struct {
	Type                 string `json:"type"`
	Ref                  string `json:"$ref"`
	Items                *spec  `json:"items"`
	AdditionalProperties *spec  `json:"additionalProperties"`
}

// everyKey builds a value of type sp that sets every property of every
// object in it, with leaves made by leaf (arrays get one element, maps one
// key).
func (s *schema) everyKey(sp *spec, leaf func(*spec) property.Value, depth int) property.Value {
	if sp == nil || depth > 8 {
		return property.New(property.Computed)
	}
	switch {
	case strings.HasPrefix(sp.Ref, "#/types/"):
		t, ok := s.Types[strings.TrimPrefix(sp.Ref, "#/types/")]
		if !ok || t.Type != "object" {
			return leaf(sp)
		}
		return property.New(s.everyKeyMap(t.Properties, leaf, depth+1))
	case sp.Type == "array":
		return property.New([]property.Value{s.everyKey(sp.Items, leaf, depth+1)})
	case sp.Type == "object":
		return property.New(map[string]property.Value{"k": s.everyKey(sp.AdditionalProperties, leaf, depth+1)})
	}
	return leaf(sp)
}

func (s *schema) everyKeyMap(props map[string]*spec, leaf func(*spec) property.Value, depth int) property.Map {
	m := map[string]property.Value{}
	for k, sp := range props {
		m[k] = s.everyKey(sp, leaf, depth)
	}
	return property.NewMap(m)
}

// Leaves: unknown (as in a preview), or a known value of the right type.
func unknownLeaf(*spec) property.Value { return property.New(property.Computed) }

func knownLeaf(sp *spec) property.Value {
	switch sp.Type {
	case "string":
		return property.New("x")
	case "integer", "number":
		return property.New(1.0)
	case "boolean":
		return property.New(true)
	}
	if sp.Ref == "pulumi.json#/Any" {
		return property.New("x")
	}
	return property.New(property.Computed) // assets, archives
}

func keyFailures(failures []p.CheckFailure) []p.CheckFailure {
	var out []p.CheckFailure
	for _, f := range failures {
		if strings.Contains(f.Reason, "unknown key") || strings.Contains(f.Reason, "Unrecognized field") {
			out = append(out, f)
		}
	}
	return out
}
