package main

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

const (
	localType  = "command:local:Command"
	remoteType = "command:remote:Command"
)

func server(t *testing.T) integration.Server {
	t.Helper()
	prov, err := newProvider()
	if err != nil {
		t.Fatal(err)
	}
	s, err := integration.NewServer(t.Context(), "command", semver.MustParse("0.0.1"),
		integration.WithProvider(prov))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func urn(typ, name string) presource.URN {
	return presource.URN("urn:pulumi:test::test::" + typ + "::" + name)
}

// pv converts plain Go values to property values.
func pv(v any) property.Value {
	switch v := v.(type) {
	case property.Value:
		return v
	case map[string]any:
		m := map[string]property.Value{}
		for k, e := range v {
			m[k] = pv(e)
		}
		return property.New(m)
	case map[string]string:
		m := map[string]property.Value{}
		for k, e := range v {
			m[k] = property.New(e)
		}
		return property.New(m)
	case []any:
		a := make([]property.Value, len(v))
		for i, e := range v {
			a[i] = pv(e)
		}
		return property.New(a)
	case []string:
		a := make([]property.Value, len(v))
		for i, e := range v {
			a[i] = property.New(e)
		}
		return property.New(a)
	case int:
		return property.New(float64(v))
	case string:
		return property.New(v)
	case bool:
		return property.New(v)
	case float64:
		return property.New(v)
	}
	panic("unsupported test value")
}

func props(m map[string]any) property.Map {
	return pv(m).AsMap()
}

// resourceT drives one resource through the provider like the engine does,
// keeping old inputs and state between steps.
type resourceT struct {
	t      *testing.T
	s      integration.Server
	urn    presource.URN
	id     string
	inputs property.Map
	state  property.Map
}

func newResource(t *testing.T, s integration.Server, typ, name string) *resourceT {
	return &resourceT{t: t, s: s, urn: urn(typ, name)}
}

func (r *resourceT) check(in property.Map) property.Map {
	r.t.Helper()
	resp, err := r.s.Check(p.CheckRequest{Urn: r.urn, State: r.inputs, Inputs: in})
	if err != nil {
		r.t.Fatal(err)
	}
	if len(resp.Failures) > 0 {
		r.t.Fatalf("check failures: %+v", resp.Failures)
	}
	return resp.Inputs
}

func (r *resourceT) create(in map[string]any) error {
	r.t.Helper()
	checked := r.check(props(in))
	resp, err := r.s.Create(p.CreateRequest{Urn: r.urn, Properties: checked})
	if err != nil {
		return err
	}
	r.id, r.inputs, r.state = resp.ID, checked, resp.Properties
	return nil
}

func (r *resourceT) mustCreate(in map[string]any) {
	r.t.Helper()
	if err := r.create(in); err != nil {
		r.t.Fatal(err)
	}
}

func (r *resourceT) diff(in map[string]any) (p.DiffResponse, property.Map) {
	r.t.Helper()
	checked := r.check(props(in))
	d, err := r.s.Diff(p.DiffRequest{ID: r.id, Urn: r.urn, State: r.state, OldInputs: r.inputs, Inputs: checked})
	if err != nil {
		r.t.Fatal(err)
	}
	return d, checked
}

// update diffs and, like the engine, calls Update only for a change that
// does not replace.
func (r *resourceT) update(in map[string]any) error {
	r.t.Helper()
	d, checked := r.diff(in)
	if replaces(d) {
		r.t.Fatalf("expected an update, diff says replace: %+v", d)
	}
	if !d.HasChanges {
		r.t.Fatalf("expected an update, diff says no change: %+v", d)
	}
	resp, err := r.s.Update(p.UpdateRequest{ID: r.id, Urn: r.urn, State: r.state,
		OldInputs: r.inputs, Inputs: checked})
	if err != nil {
		return err
	}
	r.inputs, r.state = checked, resp.Properties
	return nil
}

func (r *resourceT) delete() error {
	return r.s.Delete(p.DeleteRequest{ID: r.id, Urn: r.urn, Properties: r.state, OldInputs: r.inputs})
}

func (r *resourceT) str(key string) string {
	return r.state.Get(key).AsString()
}

// kinds returns the detailed diff as path -> kind.
func kinds(d p.DiffResponse) map[string]p.DiffKind {
	out := map[string]p.DiffKind{}
	for k, v := range d.DetailedDiff {
		out[k] = v.Kind
	}
	return out
}

// wantDiff fails unless d has changes and its detailed diff is exactly want.
func wantDiff(t *testing.T, d p.DiffResponse, want map[string]p.DiffKind) {
	t.Helper()
	if got := kinds(d); !d.HasChanges || !maps.Equal(got, want) {
		t.Fatalf("diff = %v (hasChanges %v), want %v", got, d.HasChanges, want)
	}
}

// replaces reports whether any property change in d requires replacement.
func replaces(d p.DiffResponse) bool {
	for _, v := range d.DetailedDiff {
		if v.Kind == p.UpdateReplace || v.Kind == p.AddReplace || v.Kind == p.DeleteReplace {
			return true
		}
	}
	return false
}

func TestSchema(t *testing.T) {
	resp, err := server(t).GetSchema(p.GetSchemaRequest{Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Resources map[string]struct {
			InputProperties map[string]struct {
				ReplaceOnChanges bool `json:"replaceOnChanges"`
				Secret           bool `json:"secret"`
			} `json:"inputProperties"`
		} `json:"resources"`
		Types map[string]json.RawMessage `json:"types"`
	}
	if err := json.Unmarshal([]byte(resp.Schema), &schema); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{localType, remoteType} {
		r, ok := schema.Resources[tok]
		if !ok {
			t.Fatalf("schema lacks %s", tok)
		}
		if !r.InputProperties["triggers"].ReplaceOnChanges {
			t.Errorf("%s: triggers must be replaceOnChanges", tok)
		}
	}
	// As in the official schema, the whole connection is a secret input.
	if !schema.Resources[remoteType].InputProperties["connection"].Secret {
		t.Errorf("%s: connection must be a secret input", remoteType)
	}
	for _, tok := range []string{"command:remote:Connection", "command:remote:ProxyConnection",
		"command:local:Logging", "command:remote:Logging"} {
		if _, ok := schema.Types[tok]; !ok {
			t.Errorf("schema lacks type %s", tok)
		}
	}
	if !strings.Contains(string(schema.Types["command:remote:Connection"]), `"secret":true`) {
		t.Errorf("connection credentials not secret: %s", schema.Types["command:remote:Connection"])
	}
}
