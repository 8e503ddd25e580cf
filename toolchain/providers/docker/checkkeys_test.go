package main

import (
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

func keysTestServer(t *testing.T) integration.Server { return newTestServer(t) }

type m = map[string]property.Value

func TestCheckRejectsUnknownTopLevelKey(t *testing.T) {
	// `cluster` is in the SDK but not implemented here (swarm volumes).
	wantUnknownKeys(t, checkKeys(t, tokVolume, property.NewMap(m{
		"name": str("v"), "labels": arr(obj(m{"label": str("a"), "value": str("b")})), "size": str("1G"),
		"cluster": obj(m{"scope": str("single")}),
	})), "cluster", "size")
	wantUnknownKeys(t, checkKeys(t, tokContainer, property.NewMap(m{
		"image": str("debian:bookworm-slim"), "env": strs("A=1"), "restartPolicy": str("always"),
	})), "env", "restartPolicy")
}

// Unknown keys inside an upload (also a secret one), the healthcheck, an
// advanced network, a label, an IPAM config and an image build.
func TestCheckRejectsUnknownNestedKey(t *testing.T) {
	wantUnknownKeys(t, checkKeys(t, tokContainer, property.NewMap(m{
		"image": str("debian:bookworm-slim"),
		"uploads": arr(
			obj(m{"file": str("/a"), "content": str("x")}),
			obj(m{"file": str("/b"), "content": str("x"), "foo": str("y")}).WithSecret(true),
		),
		"healthcheck":      obj(m{"tests": strs("CMD", "true"), "intervalSeconds": num(5)}),
		"networksAdvanced": arr(obj(m{"name": str("n"), "ipv4Address": str("10.0.0.2"), "ip": str("10.0.0.2")})),
		"labels":           arr(obj(m{"label": str("a"), "value": str("b"), "name": str("c")})),
	})), "healthcheck.intervalSeconds", "labels[0].name", "networksAdvanced[0].ip", "uploads[1].foo")
	wantUnknownKeys(t, checkKeys(t, tokNetwork, property.NewMap(m{
		"name": str("n"), "ipamConfigs": arr(obj(m{"subnet": str("10.9.0.0/24"), "gateways": strs("10.9.0.1")})),
	})), "ipamConfigs[0].gateways")
	wantUnknownKeys(t, checkKeys(t, tokImage, property.NewMap(m{
		"imageName": str("x:1"), "skipPush": property.New(true),
		"build": obj(m{"context": str("."), "buildArgs": obj(m{"A": str("1")})}),
	})), "build.buildArgs")
}

func TestCheckAcceptsInternalKeys(t *testing.T) {
	resp, err := newTestServer(t).Check(p.CheckRequest{Urn: keysTestURN(tokVolume, "res"), Inputs: property.NewMap(m{
		"name":       str("v"),
		"labels":     arr(obj(m{"label": str("a"), "value": str("b"), "__defaults": arr()})),
		"driverOpts": obj(m{"__o": str("1")}),
		"__defaults": arr(),
	})})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("check: %v %+v", err, resp.Failures)
	}
	if _, ok := resp.Inputs.GetOk("__defaults"); ok {
		t.Errorf("__defaults passed on: %v", resp.Inputs)
	}
	if resp.Inputs.Get("driverOpts").AsMap().Get("__o").AsString() != "1" {
		t.Errorf("driverOpts lost a key: %v", resp.Inputs)
	}
}
