// Command pulumi-resource-random is a Pulumi resource provider that is
// wire-compatible with the subset of @pulumi/random 4.21.2 used by
// mail-system: RandomPassword and RandomString.
package main

import (
	"context"
	"fmt"
	"os"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	"mail-system/toolchain/providers/shared/checkkeys"
)

// version is overridden at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

// newProvider builds the provider; shared by main and the tests. Check
// rejects input keys the plugin does not implement (../shared/checkkeys).
func newProvider() (p.Provider, error) {
	prov, err := infer.NewProviderBuilder().
		WithDisplayName("random").
		WithDescription("Random values (passwords, strings) generated with crypto/rand.").
		WithResources(
			infer.Resource(&RandomPassword{}),
			infer.Resource(&RandomString{}),
		).
		Build()
	if err != nil {
		return p.Provider{}, err
	}
	return checkkeys.RejectUnknownKeys(prov), nil
}

func main() {
	prov, err := newProvider()
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %s\n", err)
		os.Exit(1)
	}
	if err := p.RunProvider(context.Background(), "random", version, prov); err != nil {
		fmt.Fprintf(os.Stderr, "error: %s\n", err)
		os.Exit(1)
	}
}
