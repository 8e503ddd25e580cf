//go:build tools

// Keeps the CLI's main package in the module graph so `go mod tidy` records
// all of its dependencies in go.sum.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
