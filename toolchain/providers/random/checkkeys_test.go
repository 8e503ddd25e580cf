package main

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"mail-system/toolchain/providers/shared/checkkeys/checkkeystest"
)

// The key check (../shared/checkkeys, whose tests cover its rules) through
// this plugin's provider: the inputs it does not implement fail Check, every
// input of its schema passes.

func TestCheckRejectsUnknownTopLevelKey(t *testing.T) {
	srv := server(t)
	checkkeystest.WantUnknownKeys(t, checkkeystest.Check(t, srv, pwType, property.NewMap(map[string]property.Value{
		"length": property.New(8.0), "foo": property.New(1.0),
	})), "foo")
	// Every unknown key is reported, in key order; known keys with bad
	// values are not checked until the keys are right.
	checkkeystest.WantUnknownKeys(t, checkkeystest.Check(t, srv, strType, property.NewMap(map[string]property.Value{
		"length": property.New(0.0), "zeta": property.New("z"), "alpha": property.New(true),
		"uppercase": property.New(false),
	})), "alpha", "uppercase", "zeta")
}

// Random's inputs have no nested objects (keepers is a map, which takes any
// key): an unknown key next to keepers is still found.
func TestCheckRejectsUnknownNestedKey(t *testing.T) {
	checkkeystest.WantUnknownKeys(t, checkkeystest.Check(t, server(t), strType, property.NewMap(map[string]property.Value{
		"length":  property.New(8.0),
		"keepers": property.New(map[string]property.Value{"anything": property.New("x"), "__x": property.New("y")}),
		"keeper":  property.New(map[string]property.Value{"a": property.New("x")}),
	})), "keeper")
}

func TestCheckAcceptsEveryKnownKey(t *testing.T) { checkkeystest.AcceptsEveryKnownKey(t, server(t)) }
