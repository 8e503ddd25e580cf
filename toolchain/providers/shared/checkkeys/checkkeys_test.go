package checkkeys

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi-go-provider/integration"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"mail-system/toolchain/providers/shared/checkkeys/checkkeystest"
)

// A test provider with the shapes the plugins' inputs have: a secret object
// with a nested object, a list and a map of objects, and a map of strings.
type Thing struct{}

type ThingArgs struct {
	Name        string            `pulumi:"name"`
	Connection  *Conn             `pulumi:"connection,optional" provider:"secret"`
	Items       []Item            `pulumi:"items,optional"`
	ByName      map[string]Item   `pulumi:"byName,optional"`
	Environment map[string]string `pulumi:"environment,optional"`
	Count       *int              `pulumi:"count,optional"`
}

type Conn struct {
	Host  string `pulumi:"host"`
	Proxy *Proxy `pulumi:"proxy,optional"`
}

type Proxy struct {
	Host string `pulumi:"host"`
}

type Item struct {
	A string `pulumi:"a"`
}

func (*Thing) Annotate(a infer.Annotator) { a.SetToken("index", "Thing") }
func (*Conn) Annotate(a infer.Annotator)  { a.SetToken("index", "Conn") }
func (*Proxy) Annotate(a infer.Annotator) { a.SetToken("index", "Proxy") }
func (*Item) Annotate(a infer.Annotator)  { a.SetToken("index", "Item") }

func (*Thing) Create(_ context.Context, req infer.CreateRequest[ThingArgs]) (infer.CreateResponse[ThingArgs], error) {
	return infer.CreateResponse[ThingArgs]{ID: req.Name, Output: req.Inputs}, nil
}

const thingType = "test:index:Thing"

// innerCheck records the requests that reach the resource's own Check.
type innerCheck struct{ reqs []p.CheckRequest }

// server runs the test provider wrapped by RejectUnknownKeys.
func server(t *testing.T) (integration.Server, *innerCheck) {
	t.Helper()
	prov, err := infer.NewProviderBuilder().WithResources(infer.Resource(&Thing{})).Build()
	if err != nil {
		t.Fatal(err)
	}
	rec, inner := &innerCheck{}, prov.Check
	prov.Check = func(ctx context.Context, req p.CheckRequest) (p.CheckResponse, error) {
		rec.reqs = append(rec.reqs, req)
		return inner(ctx, req)
	}
	s, err := integration.NewServer(t.Context(), "test", semver.MustParse("0.0.1"),
		integration.WithProvider(RejectUnknownKeys(prov)))
	if err != nil {
		t.Fatal(err)
	}
	return s, rec
}

type m = map[string]property.Value

func str(s string) property.Value             { return property.New(s) }
func obj(v m) property.Value                  { return property.New(v) }
func arr(vs ...property.Value) property.Value { return property.New(vs) }

// Every unknown key is reported, in key order, with the bridge's wording and
// no property; the inputs come back as given and the resource's own Check is
// not run (known keys with bad values are not checked until the keys are
// right).
func TestCheckRejectsUnknownTopLevelKey(t *testing.T) {
	srv, inner := server(t)
	in := property.NewMap(m{"name": property.New(1.0), "zeta": str("z"), "Alpha": str("a"), "foo": str("f")})
	resp, err := srv.Check(p.CheckRequest{Urn: checkkeystest.URN(thingType, checkkeystest.ResourceName), Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	checkkeystest.WantUnknownKeys(t, resp.Failures, "Alpha", "foo", "zeta")
	if !property.New(resp.Inputs).Equals(property.New(in)) {
		t.Errorf("inputs %v, want them as given: %v", resp.Inputs, in)
	}
	if len(inner.reqs) != 0 {
		t.Errorf("the resource's own Check ran: %+v", inner.reqs)
	}
}

// Unknown keys in a secret object and the object inside it, in list
// elements (also a secret one) and in map values; a map takes any key.
func TestCheckRejectsUnknownNestedKey(t *testing.T) {
	srv, _ := server(t)
	checkkeystest.WantUnknownKeys(t, checkkeystest.Check(t, srv, thingType, property.NewMap(m{
		"name": str("n"),
		"connection": obj(m{"host": str("h"), "hostname": str("h"),
			"proxy": obj(m{"host": str("b"), "agent": property.New(true)})}).WithSecret(true),
		"items":       arr(obj(m{"a": str("ok")}), obj(m{"a": str("ok"), "b": str("bad")}).WithSecret(true)),
		"byName":      obj(m{"x y": obj(m{"a": str("ok"), "c": str("bad")}), "ok": obj(m{"a": str("ok")})}),
		"environment": obj(m{"ANY_NAME": str("1"), "x y": str("2")}),
	})), `byName["x y"].c`, "connection.hostname", "connection.proxy.agent", "items[1].b")
}

// Keys starting with "__" are accepted and not passed on, at the top level
// and in nested objects; a map keeps them.
func TestCheckAcceptsInternalKeys(t *testing.T) {
	srv, inner := server(t)
	resp, err := srv.Check(p.CheckRequest{Urn: checkkeystest.URN(thingType, checkkeystest.ResourceName), Inputs: property.NewMap(m{
		"name":        str("n"),
		"connection":  obj(m{"host": str("h"), "__defaults": arr()}),
		"items":       arr(obj(m{"a": str("ok"), "__defaults": arr()})),
		"environment": obj(m{"__X": str("1")}),
		"__defaults":  arr(),
	})})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("check: %v %+v", err, resp.Failures)
	}
	if len(inner.reqs) != 1 {
		t.Fatalf("the resource's own Check ran %d times, want 1", len(inner.reqs))
	}
	got := inner.reqs[0].Inputs
	if _, ok := got.GetOk("__defaults"); ok {
		t.Errorf("__defaults passed on: %v", got)
	}
	if _, ok := got.Get("connection").AsMap().GetOk("__defaults"); ok {
		t.Errorf("__defaults passed on in a nested object: %v", got)
	}
	if _, ok := got.Get("items").AsArray().Get(0).AsMap().GetOk("__defaults"); ok {
		t.Errorf("__defaults passed on in a list element: %v", got)
	}
	if got.Get("environment").AsMap().Get("__X").AsString() != "1" {
		t.Errorf("environment lost a variable: %v", got)
	}
	if resp.Inputs.Get("environment").AsMap().Get("__X").AsString() != "1" {
		t.Errorf("environment lost a variable: %v", resp.Inputs)
	}
}

func TestCheckAcceptsEveryKnownKey(t *testing.T) {
	srv, _ := server(t)
	checkkeystest.AcceptsEveryKnownKey(t, srv)
}

// A type the schema does not have is left to the resource's own Check.
func TestCheckLeavesOtherTypesToTheProvider(t *testing.T) {
	srv, inner := server(t)
	_, err := srv.Check(p.CheckRequest{Urn: checkkeystest.URN("test:index:Other", checkkeystest.ResourceName),
		Inputs: property.NewMap(m{"foo": str("f")})})
	if len(inner.reqs) != 1 {
		t.Fatalf("the resource's own Check ran %d times, want 1 (error %v)", len(inner.reqs), err)
	}
}

// The schema is read once, on the first Check; failing to read or parse it
// fails the check.
func TestCheckReadsTheSchemaOnce(t *testing.T) {
	for _, c := range []struct {
		schema string
		err    error
		want   string
	}{
		{schema: `{"resources": {"t:index:R": {"inputProperties": {"a": {"type": "string"}}}}}`},
		{err: errors.New("boom"), want: "reading the provider's own schema: boom"},
		{schema: `{`, want: "parsing the provider's own schema: "},
	} {
		reads, checks := 0, 0
		prov := RejectUnknownKeys(p.Provider{
			GetSchema: func(context.Context, p.GetSchemaRequest) (p.GetSchemaResponse, error) {
				reads++
				return p.GetSchemaResponse{Schema: c.schema}, c.err
			},
			Check: func(_ context.Context, req p.CheckRequest) (p.CheckResponse, error) {
				checks++
				return p.CheckResponse{Inputs: req.Inputs}, nil
			},
		})
		for range 2 {
			resp, err := prov.Check(context.Background(), p.CheckRequest{Urn: checkkeystest.URN("t:index:R", "res"),
				Inputs: property.NewMap(m{"a": str("x"), "b": str("y")})})
			switch {
			case c.want == "" && (err != nil || len(resp.Failures) != 1):
				t.Errorf("schema %q: %v %+v, want one failure", c.schema, err, resp.Failures)
			case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
				t.Errorf("schema %q, error %v: got error %v, want %q", c.schema, c.err, err, c.want)
			}
		}
		if reads != 1 || checks != 0 {
			t.Errorf("schema %q, error %v: read %d times, inner check ran %d times; want 1 and 0",
				c.schema, c.err, reads, checks)
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
