// Command pulumi-resource-mysql is a Pulumi resource provider that is
// wire-compatible with the subset of @pulumi/mysql 3.3.2 used by mail-system:
// Database, User and Grant, implemented with real SQL against MySQL/MariaDB.
package main

import (
	"context"
	"fmt"
	"os"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
)

// version is overridden at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

// newProvider builds the provider; shared by main and the tests.
func newProvider() (p.Provider, error) {
	return infer.NewProviderBuilder().
		WithDisplayName("mysql").
		WithDescription("MySQL/MariaDB databases, users and grants managed with real SQL.").
		WithConfig(infer.Config(&Config{})).
		WithResources(
			infer.Resource(&Database{}),
			infer.Resource(&User{}),
			infer.Resource(&Grant{}),
		).
		Build()
}

func main() {
	prov, err := newProvider()
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %s\n", err)
		os.Exit(1)
	}
	if err := p.RunProvider(context.Background(), "mysql", version, prov); err != nil {
		fmt.Fprintf(os.Stderr, "error: %s\n", err)
		os.Exit(1)
	}
}
