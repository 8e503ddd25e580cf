package main

import (
	"testing"

	"mail-system/toolchain/providers/shared/checkkeys/checkkeystest"
)

// The key check (../shared/checkkeys, whose tests cover its rules) through
// this plugin's provider: the inputs it does not implement fail Check, every
// input of its schema passes.

func TestCheckRejectsUnknownTopLevelKey(t *testing.T) {
	srv := server(t)
	// assetPaths and archivePaths are in the SDK but not implemented here.
	checkkeystest.WantUnknownKeys(t, checkkeystest.Check(t, srv, localType, props(map[string]any{
		"create": "true", "foo": 1, "assetPaths": []any{"*.txt"}, "archivePaths": []any{"**"},
	})), "archivePaths", "assetPaths", "foo")
	checkkeystest.WantUnknownKeys(t, checkkeystest.Check(t, srv, remoteType, props(map[string]any{
		"connection": map[string]any{"host": "h"}, "create": "true", "env": map[string]any{"A": "1"},
	})), "env")
}

// Unknown keys in the connection and in its proxy, also when the connection
// is a secret; the environment map takes any key.
func TestCheckRejectsUnknownNestedKey(t *testing.T) {
	conn := pv(map[string]any{"host": "h", "hostname": "h",
		"proxy": map[string]any{"host": "bastion", "agent": true}}).WithSecret(true)
	checkkeystest.WantUnknownKeys(t, checkkeystest.Check(t, server(t), remoteType, props(map[string]any{
		"connection": conn, "create": "true", "environment": map[string]any{"ANY_NAME": "1"},
	})), "connection.hostname", "connection.proxy.agent")
}

func TestCheckAcceptsEveryKnownKey(t *testing.T) { checkkeystest.AcceptsEveryKnownKey(t, server(t)) }
