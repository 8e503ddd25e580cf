package main

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"golang.org/x/crypto/bcrypt"
)

// ---------------------------------------------------------------------------
// Generation properties.

func count(s, set string) int {
	n := 0
	for _, r := range s {
		if strings.ContainsRune(set, r) {
			n++
		}
	}
	return n
}

func TestGenerateLengthAndClasses(t *testing.T) {
	all := genParams{Length: 64, Lower: true, Upper: true, Numeric: true, Special: true}
	for i := 0; i < 50; i++ {
		s, err := generate(all)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 64 {
			t.Fatalf("length %d, want 64: %q", len(s), s)
		}
		if count(s, lowerChars+upperChars+numericChars+defaultSpecial) != 64 {
			t.Fatalf("unexpected characters in %q", s)
		}
	}

	only := map[string]genParams{
		lowerChars:     {Length: 40, Lower: true},
		upperChars:     {Length: 40, Upper: true},
		numericChars:   {Length: 40, Numeric: true},
		defaultSpecial: {Length: 40, Special: true},
	}
	for set, g := range only {
		s, err := generate(g)
		if err != nil {
			t.Fatal(err)
		}
		if count(s, set) != 40 {
			t.Fatalf("with only %q enabled got %q", set, s)
		}
	}

	// Two draws colliding would mean the generator is not random.
	a, _ := generate(all)
	b, _ := generate(all)
	if a == b {
		t.Fatalf("two 64-char draws are equal: %q", a)
	}
}

func TestGenerateMinCounts(t *testing.T) {
	g := genParams{Length: 12, Lower: true, Upper: true, Numeric: true, Special: true,
		MinLower: 3, MinUpper: 3, MinNumeric: 3, MinSpecial: 3}
	for i := 0; i < 200; i++ {
		s, err := generate(g)
		if err != nil {
			t.Fatal(err)
		}
		if count(s, lowerChars) != 3 || count(s, upperChars) != 3 ||
			count(s, numericChars) != 3 || count(s, defaultSpecial) != 3 {
			t.Fatalf("min counts not honoured: %q", s)
		}
	}
	// Min counts on top of a single class: at least N of each.
	g = genParams{Length: 20, Lower: true, MinNumeric: 5, MinUpper: 2}
	for i := 0; i < 100; i++ {
		s, _ := generate(g)
		if count(s, numericChars) < 5 || count(s, upperChars) < 2 || len(s) != 20 {
			t.Fatalf("min counts not honoured: %q", s)
		}
	}
}

func TestGenerateOverrideSpecial(t *testing.T) {
	g := genParams{Length: 50, Special: true, OverrideSpecial: "_-"}
	s, err := generate(g)
	if err != nil {
		t.Fatal(err)
	}
	if count(s, "_-") != 50 {
		t.Fatalf("override set not used: %q", s)
	}
	// Non-ASCII special characters stay valid UTF-8 and count as one each.
	g = genParams{Length: 30, Special: true, OverrideSpecial: "äöü€", MinSpecial: 30}
	s, _ = generate(g)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) != 30 {
		t.Fatalf("bad non-ASCII result %q", s)
	}
}

func TestGenerateErrors(t *testing.T) {
	for name, g := range map[string]genParams{
		"min sum":  {Length: 4, Lower: true, MinLower: 3, MinUpper: 2},
		"zero len": {Length: 0, Lower: true},
		"no class": {Length: 8},
		"negative": {Length: 8, Lower: true, MinSpecial: -1},
	} {
		if _, err := generate(g); err == nil {
			t.Errorf("%s: expected an error", name)
		}
	}
	_, err := generate(genParams{Length: 4, Lower: true, MinLower: 3, MinUpper: 2})
	if err == nil || !strings.Contains(err.Error(), "length (4) must be >=") {
		t.Fatalf("unclear error: %v", err)
	}
}

// ---------------------------------------------------------------------------
// Provider lifecycle through the integration server.

func server(t *testing.T) integration.Server {
	t.Helper()
	prov, err := newProvider()
	if err != nil {
		t.Fatal(err)
	}
	s, err := integration.NewServer(t.Context(), "random", semver.MustParse("0.0.1"),
		integration.WithProvider(prov))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func urn(typ, name string) presource.URN {
	return presource.URN("urn:pulumi:test::test::" + typ + "::" + name)
}

const (
	pwType  = "random:index/randomPassword:RandomPassword"
	strType = "random:index/randomString:RandomString"
)

func check(t *testing.T, s integration.Server, u presource.URN, in map[string]property.Value) property.Map {
	t.Helper()
	resp, err := s.Check(p.CheckRequest{Urn: u, Inputs: property.NewMap(in)})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Failures) > 0 {
		t.Fatalf("check failures: %+v", resp.Failures)
	}
	return resp.Inputs
}

// replaces reports whether d replaces the resource because of prop (or a
// path below it, such as keepers.k).
func replaces(d p.DiffResponse, prop string) bool {
	for k, v := range d.DetailedDiff {
		if (k == prop || strings.HasPrefix(k, prop+".") || strings.HasPrefix(k, prop+"[")) &&
			(v.Kind == p.UpdateReplace || v.Kind == p.AddReplace || v.Kind == p.DeleteReplace) {
			return true
		}
	}
	return false
}

func TestSchemaTokens(t *testing.T) {
	resp, err := server(t).GetSchema(p.GetSchemaRequest{Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Resources map[string]struct {
			Properties map[string]struct {
				Secret bool `json:"secret"`
			} `json:"properties"`
		} `json:"resources"`
	}
	if err := json.Unmarshal([]byte(resp.Schema), &schema); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{pwType, strType} {
		if _, ok := schema.Resources[tok]; !ok {
			t.Errorf("schema lacks %s", tok)
		}
	}
	pw := schema.Resources[pwType].Properties
	if !pw["result"].Secret || !pw["bcryptHash"].Secret {
		t.Errorf("password result/bcryptHash not secret in schema: %+v", pw)
	}
	if schema.Resources[strType].Properties["result"].Secret {
		t.Errorf("string result must not be secret")
	}
}

func TestPasswordLifecycle(t *testing.T) {
	s := server(t)
	u := urn(pwType, "pw")
	inputs := check(t, s, u, map[string]property.Value{
		"length":     property.New(24.0),
		"minNumeric": property.New(4.0),
		"special":    property.New(false),
		"keepers":    property.New(map[string]property.Value{"k": property.New("v1")}),
	})
	// Defaults are filled in, explicit false survives.
	if !inputs.Get("lower").AsBool() || inputs.Get("special").AsBool() ||
		!inputs.Get("numeric").AsBool() || inputs.Get("minUpper").AsNumber() != 0 {
		t.Fatalf("defaults not applied as expected: %v", inputs)
	}

	// Preview: nothing generated, result unknown.
	prev, err := s.Create(p.CreateRequest{Urn: u, Properties: inputs, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !prev.Properties.Get("result").HasComputed() {
		t.Fatalf("preview result should be unknown: %v", prev.Properties)
	}

	created, err := s.Create(p.CreateRequest{Urn: u, Properties: inputs})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID != "none" {
		t.Fatalf("ID = %q, want none", created.ID)
	}
	res, hash := created.Properties.Get("result"), created.Properties.Get("bcryptHash")
	if !res.Secret() || !hash.Secret() {
		t.Fatalf("result and bcryptHash must be secret: %v", created.Properties)
	}
	pw := res.AsString()
	if len(pw) != 24 || count(pw, numericChars) < 4 || count(pw, defaultSpecial) != 0 {
		t.Fatalf("bad password %q", pw)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash.AsString()), []byte(pw)); err != nil {
		t.Fatalf("bcryptHash does not match result: %v", err)
	}

	// No change: no diff.
	d, err := s.Diff(p.DiffRequest{ID: created.ID, Urn: u, State: created.Properties,
		OldInputs: inputs, Inputs: inputs})
	if err != nil {
		t.Fatal(err)
	}
	if d.HasChanges {
		t.Fatalf("unexpected diff: %+v", d)
	}

	// Any input change (length, keepers) replaces.
	for name, in := range map[string]map[string]property.Value{
		"length": {"length": property.New(25.0), "minNumeric": property.New(4.0),
			"special": property.New(false), "keepers": property.New(map[string]property.Value{"k": property.New("v1")})},
		"keepers": {"length": property.New(24.0), "minNumeric": property.New(4.0),
			"special": property.New(false), "keepers": property.New(map[string]property.Value{"k": property.New("v2")})},
	} {
		news := check(t, s, u, in)
		d, err := s.Diff(p.DiffRequest{ID: created.ID, Urn: u, State: created.Properties,
			OldInputs: inputs, Inputs: news})
		if err != nil {
			t.Fatal(err)
		}
		if !d.HasChanges || !replaces(d, name) {
			t.Fatalf("%s change: want replace, got %+v", name, d)
		}
	}

	if err := s.Delete(p.DeleteRequest{ID: created.ID, Urn: u, Properties: created.Properties}); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordCheckFailures(t *testing.T) {
	s := server(t)
	u := urn(pwType, "bad")
	for _, in := range []map[string]property.Value{
		{"length": property.New(4.0), "minLower": property.New(3.0), "minSpecial": property.New(3.0)},
		{"length": property.New(8.0), "lower": property.New(false), "upper": property.New(false),
			"numeric": property.New(false), "special": property.New(false)},
		{"length": property.New(8.0), "number": property.New(true), "numeric": property.New(false)},
	} {
		resp, err := s.Check(p.CheckRequest{Urn: u, Inputs: property.NewMap(in)})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Failures) == 0 {
			t.Errorf("expected a check failure for %v", in)
		}
	}
	// Unknown length in preview is not an error.
	resp, err := s.Check(p.CheckRequest{Urn: u, Inputs: property.NewMap(map[string]property.Value{
		"length": property.New(property.Computed), "minLower": property.New(3.0)})})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("unknown length must pass check: %v %+v", err, resp.Failures)
	}
}

func TestNumberAlias(t *testing.T) {
	s := server(t)
	u := urn(strType, "alias")
	in := check(t, s, u, map[string]property.Value{"length": property.New(30.0), "number": property.New(false)})
	if in.Get("numeric").AsBool() || in.Get("number").AsBool() {
		t.Fatalf("number=false must carry over to numeric: %v", in)
	}
	created, err := s.Create(p.CreateRequest{Urn: u, Properties: in})
	if err != nil {
		t.Fatal(err)
	}
	if r := created.Properties.Get("result").AsString(); count(r, numericChars) != 0 {
		t.Fatalf("digits in %q despite number=false", r)
	}
}

func TestStringLifecycle(t *testing.T) {
	s := server(t)
	u := urn(strType, "str")
	inputs := check(t, s, u, map[string]property.Value{
		"length": property.New(16.0), "overrideSpecial": property.New("#"), "minSpecial": property.New(2.0),
		"upper": property.New(false),
	})
	created, err := s.Create(p.CreateRequest{Urn: u, Properties: inputs})
	if err != nil {
		t.Fatal(err)
	}
	res := created.Properties.Get("result")
	if res.Secret() {
		t.Fatalf("RandomString result must not be secret")
	}
	if created.ID != res.AsString() {
		t.Fatalf("ID %q != result %q", created.ID, res.AsString())
	}
	r := res.AsString()
	if len(r) != 16 || count(r, "#") < 2 || count(r, upperChars) != 0 ||
		count(r, lowerChars+numericChars+"#") != 16 {
		t.Fatalf("bad string %q", r)
	}
	d, err := s.Diff(p.DiffRequest{ID: created.ID, Urn: u, State: created.Properties,
		OldInputs: inputs, Inputs: inputs})
	if err != nil || d.HasChanges {
		t.Fatalf("unexpected diff: %v %+v", err, d)
	}
	news := check(t, s, u, map[string]property.Value{
		"length": property.New(16.0), "overrideSpecial": property.New("%"), "minSpecial": property.New(2.0),
		"upper": property.New(false),
	})
	d, err = s.Diff(p.DiffRequest{ID: created.ID, Urn: u, State: created.Properties, OldInputs: inputs, Inputs: news})
	if err != nil || d.DetailedDiff["overrideSpecial"].Kind != p.UpdateReplace {
		t.Fatalf("overrideSpecial change must replace: %v %+v", err, d)
	}
}
