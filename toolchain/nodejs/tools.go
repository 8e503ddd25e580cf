//go:build tools

// Keeps the language host's main package in the module graph for `go mod tidy`.
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
