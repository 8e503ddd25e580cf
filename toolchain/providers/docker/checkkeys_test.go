package main

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"mail-system/toolchain/providers/shared/checkkeys/checkkeystest"
)

// The key check (../shared/checkkeys, whose tests cover its rules) through
// this plugin's provider: the inputs it does not implement fail Check, every
// input of its schema passes.

type m = map[string]property.Value

func TestCheckRejectsUnknownTopLevelKey(t *testing.T) {
	srv := newTestServer(t)
	// `cluster` is in the SDK but not implemented here (swarm volumes).
	checkkeystest.WantUnknownKeys(t, checkkeystest.Check(t, srv, tokVolume, property.NewMap(m{
		"name": str("v"), "labels": arr(obj(m{"label": str("a"), "value": str("b")})), "size": str("1G"),
		"cluster": obj(m{"scope": str("single")}),
	})), "cluster", "size")
	checkkeystest.WantUnknownKeys(t, checkkeystest.Check(t, srv, tokContainer, property.NewMap(m{
		"image": str("debian:bookworm-slim"), "env": strs("A=1"), "restartPolicy": str("always"),
	})), "env", "restartPolicy")
}

// Unknown keys inside an upload (also a secret one), the healthcheck, an
// advanced network, a label, an IPAM config and an image build.
func TestCheckRejectsUnknownNestedKey(t *testing.T) {
	srv := newTestServer(t)
	checkkeystest.WantUnknownKeys(t, checkkeystest.Check(t, srv, tokContainer, property.NewMap(m{
		"image": str("debian:bookworm-slim"),
		"uploads": arr(
			obj(m{"file": str("/a"), "content": str("x")}),
			obj(m{"file": str("/b"), "content": str("x"), "foo": str("y")}).WithSecret(true),
		),
		"healthcheck":      obj(m{"tests": strs("CMD", "true"), "intervalSeconds": num(5)}),
		"networksAdvanced": arr(obj(m{"name": str("n"), "ipv4Address": str("10.0.0.2"), "ip": str("10.0.0.2")})),
		"labels":           arr(obj(m{"label": str("a"), "value": str("b"), "name": str("c")})),
	})), "healthcheck.intervalSeconds", "labels[0].name", "networksAdvanced[0].ip", "uploads[1].foo")
	checkkeystest.WantUnknownKeys(t, checkkeystest.Check(t, srv, tokNetwork, property.NewMap(m{
		"name": str("n"), "ipamConfigs": arr(obj(m{"subnet": str("10.9.0.0/24"), "gateways": strs("10.9.0.1")})),
	})), "ipamConfigs[0].gateways")
	checkkeystest.WantUnknownKeys(t, checkkeystest.Check(t, srv, tokImage, property.NewMap(m{
		"imageName": str("x:1"), "skipPush": property.New(true),
		"build": obj(m{"context": str("."), "buildArgs": obj(m{"A": str("1")})}),
	})), "build.buildArgs")
}

func TestCheckAcceptsEveryKnownKey(t *testing.T) {
	checkkeystest.AcceptsEveryKnownKey(t, newTestServer(t))
}
