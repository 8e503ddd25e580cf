// Command pulumi-resource-command is a Pulumi resource provider that is
// wire-compatible with the subset of @pulumi/command 1.2.1 used by
// mail-system: local.Command and remote.Command.
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
// rejects input keys the plugin does not implement (../shared/checkkeys);
// Diff replaces on a change inside triggers (diff.go).
func newProvider() (p.Provider, error) {
	prov, err := infer.NewProviderBuilder().
		WithDisplayName("command").
		WithDescription("Run commands locally or over SSH.").
		WithResources(
			infer.Resource(&LocalCommand{}),
			infer.Resource(&RemoteCommand{}),
		).
		Build()
	if err != nil {
		return p.Provider{}, err
	}
	return replaceTriggers(checkkeys.RejectUnknownKeys(prov)), nil
}

func main() {
	prov, err := newProvider()
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %s\n", err)
		os.Exit(1)
	}
	if err := p.RunProvider(context.Background(), "command", version, prov); err != nil {
		fmt.Fprintf(os.Stderr, "error: %s\n", err)
		os.Exit(1)
	}
}
