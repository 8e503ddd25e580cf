package main

import (
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
)

func keysTestServer(t *testing.T) integration.Server { return server(t) }

func TestCheckRejectsUnknownTopLevelKey(t *testing.T) {
	// assetPaths and archivePaths are in the SDK but not implemented here.
	wantUnknownKeys(t, checkKeys(t, localType, props(map[string]any{
		"create": "true", "foo": 1, "assetPaths": []any{"*.txt"}, "archivePaths": []any{"**"},
	})), "archivePaths", "assetPaths", "foo")
	wantUnknownKeys(t, checkKeys(t, remoteType, props(map[string]any{
		"connection": map[string]any{"host": "h"}, "create": "true", "env": map[string]any{"A": "1"},
	})), "env")
}

// Unknown keys in the connection and in its proxy, also when the connection
// is a secret; the environment map takes any key.
func TestCheckRejectsUnknownNestedKey(t *testing.T) {
	conn := pv(map[string]any{"host": "h", "hostname": "h",
		"proxy": map[string]any{"host": "bastion", "agent": true}}).WithSecret(true)
	wantUnknownKeys(t, checkKeys(t, remoteType, props(map[string]any{
		"connection": conn, "create": "true", "environment": map[string]any{"ANY_NAME": "1"},
	})), "connection.hostname", "connection.proxy.agent")
}

func TestCheckAcceptsInternalKeys(t *testing.T) {
	resp, err := server(t).Check(p.CheckRequest{Urn: keysTestURN(remoteType, "res"), Inputs: props(map[string]any{
		"connection": map[string]any{"host": "h", "__defaults": []any{}},
		"create":     "true", "environment": map[string]any{"__X": "1"},
		"__defaults": []any{},
	})})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("check: %v %+v", err, resp.Failures)
	}
	if _, ok := resp.Inputs.GetOk("__defaults"); ok {
		t.Errorf("__defaults passed on: %v", resp.Inputs)
	}
	if resp.Inputs.Get("environment").AsMap().Get("__X").AsString() != "1" {
		t.Errorf("environment lost a variable: %v", resp.Inputs)
	}
}
