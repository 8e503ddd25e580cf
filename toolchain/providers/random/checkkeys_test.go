package main

import (
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

func keysTestServer(t *testing.T) integration.Server { return server(t) }

func TestCheckRejectsUnknownTopLevelKey(t *testing.T) {
	wantUnknownKeys(t, checkKeys(t, pwType, property.NewMap(map[string]property.Value{
		"length": property.New(8.0), "foo": property.New(1.0),
	})), "foo")
	// Every unknown key is reported, in key order; known keys with bad
	// values are not checked until the keys are right.
	wantUnknownKeys(t, checkKeys(t, strType, property.NewMap(map[string]property.Value{
		"length": property.New(0.0), "zeta": property.New("z"), "alpha": property.New(true),
		"uppercase": property.New(false),
	})), "alpha", "uppercase", "zeta")
}

// Random's inputs have no nested objects (keepers is a map, which takes any
// key): the nested case is TestKeySchemaPaths. An unknown key next to
// keepers is still found.
func TestCheckRejectsUnknownNestedKey(t *testing.T) {
	wantUnknownKeys(t, checkKeys(t, strType, property.NewMap(map[string]property.Value{
		"length":  property.New(8.0),
		"keepers": property.New(map[string]property.Value{"anything": property.New("x"), "__x": property.New("y")}),
		"keeper":  property.New(map[string]property.Value{"a": property.New("x")}),
	})), "keeper")
}

func TestCheckAcceptsInternalKeys(t *testing.T) {
	in := property.NewMap(map[string]property.Value{
		"length": property.New(8.0), "special": property.New(false),
		"keepers":    property.New(map[string]property.Value{"__x": property.New("y")}),
		"__defaults": property.New([]property.Value{}),
	})
	resp, err := server(t).Check(p.CheckRequest{Urn: keysTestURN(pwType, "res"), Inputs: in})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("check: %v %+v", err, resp.Failures)
	}
	if _, ok := resp.Inputs.GetOk("__defaults"); ok {
		t.Errorf("__defaults passed on: %v", resp.Inputs)
	}
	if resp.Inputs.Get("keepers").AsMap().Get("__x").AsString() != "y" {
		t.Errorf("keepers lost a key: %v", resp.Inputs)
	}
}
