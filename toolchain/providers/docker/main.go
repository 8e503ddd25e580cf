// Command pulumi-resource-docker is the mail-system's own Pulumi resource
// provider for Docker. It is wire-compatible with the subset of the npm SDK
// `@pulumi/docker` 5.2.0 that the project uses (Container, Network, Volume,
// Image): same resource tokens, property names, defaults and
// replace/update semantics as the official provider documents. It talks to the
// Docker Engine API through the official Go client.
package main

import (
	"context"
	"fmt"
	"os"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"mail-system/toolchain/providers/shared/checkkeys"
)

// version is overridden at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

func main() {
	prov, err := newProvider()
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
	if err := p.RunProvider(context.Background(), "docker", version, prov); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

// newProvider builds the provider. Diff is replaced by our own input diff (see
// diff.go) so that nested changes of replace-only inputs really replace and so
// that name-bound resources are deleted before they are replaced.
func newProvider() (p.Provider, error) {
	prov, err := infer.NewProviderBuilder().
		WithDisplayName("Docker (mail-system)").
		WithDescription("Docker provider for the mail-system project (Container, Network, Volume, Image).").
		WithNamespace("pulumi").
		// Nested types get the SDK's module (docker:index:ContainerPort...).
		WithModuleMap(map[tokens.ModuleName]tokens.ModuleName{"docker": "index"}).
		WithConfig(infer.Config(&Config{})).
		WithResources(
			infer.Resource(&Network{}),
			infer.Resource(&Volume{}),
			infer.Resource(&Container{}),
			infer.Resource(&Image{}),
		).
		Build()
	if err != nil {
		return p.Provider{}, err
	}
	inner := prov.Diff
	prov.Diff = func(ctx context.Context, req p.DiffRequest) (p.DiffResponse, error) {
		if pol, ok := diffPolicies[string(req.Urn.Type())]; ok {
			return pol.diff(req), nil
		}
		return inner(ctx, req)
	}
	// A changed provider configuration (e.g. host) updates the provider; it
	// must not replace it, which would replace every resource it manages.
	prov.DiffConfig = func(ctx context.Context, req p.DiffRequest) (p.DiffResponse, error) {
		return configDiffPolicy.diff(req), nil
	}
	// Check rejects input keys the plugin does not implement (../shared/checkkeys).
	return checkkeys.RejectUnknownKeys(prov), nil
}
