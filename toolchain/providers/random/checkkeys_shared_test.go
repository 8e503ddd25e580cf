// This file is the same in every plugin under toolchain/providers (command,
// docker, random); change all copies together. Each plugin's
// checkkeys_test.go defines keysTestServer and its own cases.

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// keysTestSchema is the plugin's schema as the key check reads it.
func keysTestSchema(t *testing.T) *keySchema {
	t.Helper()
	resp, err := keysTestServer(t).GetSchema(p.GetSchemaRequest{Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	var s keySchema
	if err := json.Unmarshal([]byte(resp.Schema), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Resources) == 0 {
		t.Fatal("schema has no resources")
	}
	return &s
}

// everyKey builds a value of type spec that sets every property of every
// object in it, with leaves made by leaf (arrays get one element, maps one
// key).
func everyKey(s *keySchema, spec *keySpec, leaf func(*keySpec) property.Value, depth int) property.Value {
	if spec == nil || depth > 8 {
		return property.New(property.Computed)
	}
	switch {
	case strings.HasPrefix(spec.Ref, "#/types/"):
		t, ok := s.Types[strings.TrimPrefix(spec.Ref, "#/types/")]
		if !ok || t.Type != "object" {
			return leaf(spec)
		}
		return property.New(everyKeyMap(s, t.Properties, leaf, depth+1))
	case spec.Type == "array":
		return property.New([]property.Value{everyKey(s, spec.Items, leaf, depth+1)})
	case spec.Type == "object":
		return property.New(map[string]property.Value{"k": everyKey(s, spec.AdditionalProperties, leaf, depth+1)})
	}
	return leaf(spec)
}

func everyKeyMap(s *keySchema, props map[string]*keySpec, leaf func(*keySpec) property.Value, depth int) property.Map {
	m := map[string]property.Value{}
	for k, spec := range props {
		m[k] = everyKey(s, spec, leaf, depth)
	}
	return property.NewMap(m)
}

// Leaves: unknown (as in a preview), or a known value of the right type.
func unknownLeaf(*keySpec) property.Value { return property.New(property.Computed) }

func knownLeaf(spec *keySpec) property.Value {
	switch spec.Type {
	case "string":
		return property.New("x")
	case "integer", "number":
		return property.New(1.0)
	case "boolean":
		return property.New(true)
	}
	if spec.Ref == "pulumi.json#/Any" {
		return property.New("x")
	}
	return property.New(property.Computed) // assets, archives
}

func keysTestURN(tok, name string) presource.URN {
	return presource.URN("urn:pulumi:test::test::" + tok + "::" + name)
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

// Every input property of every resource, and every property of the objects
// nested in them, passes the key check; the resource's own Check (whose
// decoder also rejects unrecognized fields) agrees.
func TestCheckAcceptsEveryKnownKey(t *testing.T) {
	s := keysTestSchema(t)
	srv := keysTestServer(t)
	var toks []string
	for tok := range s.Resources {
		toks = append(toks, tok)
	}
	sort.Strings(toks)
	for _, tok := range toks {
		for name, leaf := range map[string]func(*keySpec) property.Value{"unknown": unknownLeaf, "known": knownLeaf} {
			in := everyKeyMap(s, s.Resources[tok].InputProperties, leaf, 0)
			resp, err := srv.Check(p.CheckRequest{Urn: keysTestURN(tok, "all"), Inputs: in})
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

// checkKeys runs Check on inputs and returns the failures.
func checkKeys(t *testing.T, tok string, in property.Map) []p.CheckFailure {
	t.Helper()
	resp, err := keysTestServer(t).Check(p.CheckRequest{Urn: keysTestURN(tok, "res"), Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Failures
}

// wantUnknownKeys asserts that failures are exactly the bridge's unknown-key
// failures for paths (in order), with the path in the reason and no
// property, as the official providers report them.
func wantUnknownKeys(t *testing.T, failures []p.CheckFailure, paths ...string) {
	t.Helper()
	if len(failures) != len(paths) {
		t.Fatalf("want %d unknown-key failures %v, got %+v", len(paths), paths, failures)
	}
	for i, path := range paths {
		want := "Invalid or unknown key. Examine values at 'res." + path + "'."
		if failures[i].Reason != want || failures[i].Property != "" {
			t.Errorf("failure %d = %+v, want reason %q and no property", i, failures[i], want)
		}
	}
}

// A synthetic schema: an unknown key deep in objects, lists and maps is found
// with the bridge's path syntax, "__" keys are dropped only from objects, and
// secrets survive.
func TestKeySchemaPaths(t *testing.T) {
	s := &keySchema{}
	s.Types = map[string]keyType{
		"pkg:index:Outer": {Type: "object", Properties: map[string]*keySpec{
			"inners": {Type: "array", Items: &keySpec{Ref: "#/types/pkg:index:Inner"}},
			"byName": {Type: "object", AdditionalProperties: &keySpec{Ref: "#/types/pkg:index:Inner"}},
			"env":    {Type: "object", AdditionalProperties: &keySpec{Type: "string"}},
		}},
		"pkg:index:Inner": {Type: "object", Properties: map[string]*keySpec{"a": {Type: "string"}}},
	}
	obj := func(m map[string]property.Value) property.Value { return property.New(m) }
	in := property.NewMap(map[string]property.Value{
		"outer": obj(map[string]property.Value{
			"inners": property.New([]property.Value{
				obj(map[string]property.Value{"a": property.New("ok"), "__defaults": property.New([]property.Value{})}),
				obj(map[string]property.Value{"a": property.New("ok"), "b": property.New("bad")}).WithSecret(true),
			}),
			"byName": obj(map[string]property.Value{
				"x y": obj(map[string]property.Value{"c": property.New("bad")}),
			}),
			"env": obj(map[string]property.Value{"__KEPT": property.New("1"), "ANY": property.New("2")}),
		}),
		"__defaults": property.New([]property.Value{}),
		"Top-Level":  property.New("bad"),
	})
	var unknown []string
	out := s.object(in, map[string]*keySpec{"outer": {Ref: "#/types/pkg:index:Outer"}}, "", &unknown)
	want := []string{"Top-Level", `outer.byName["x y"].c`, "outer.inners[1].b"}
	if strings.Join(unknown, "|") != strings.Join(want, "|") {
		t.Fatalf("unknown keys %q, want %q", unknown, want)
	}
	if _, ok := out.GetOk("__defaults"); ok {
		t.Errorf("__defaults not dropped at the top level: %v", out)
	}
	outer := out.Get("outer").AsMap()
	if _, ok := outer.Get("inners").AsArray().Get(0).AsMap().GetOk("__defaults"); ok {
		t.Errorf("__defaults not dropped in a nested object: %v", outer)
	}
	if !outer.Get("inners").AsArray().Get(1).Secret() {
		t.Errorf("secret element lost its secret flag: %v", outer)
	}
	if outer.Get("env").AsMap().Get("__KEPT").AsString() != "1" {
		t.Errorf("a map key starting with __ must be kept: %v", outer)
	}
}

// The copies of the shared files in the sibling plugins are identical.
func TestCheckKeysCopiesIdentical(t *testing.T) {
	for _, file := range []string{"checkkeys.go", "checkkeys_shared_test.go"} {
		own, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, plugin := range []string{"command", "docker", "random"} {
			other, err := os.ReadFile(filepath.Join("..", plugin, file))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(own, other) {
				t.Errorf("../%s/%s differs from this plugin's copy; change all copies together", plugin, file)
			}
		}
	}
}
