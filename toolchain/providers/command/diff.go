package main

import (
	"context"

	p "github.com/pulumi/pulumi-go-provider"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Diff of local.Command and remote.Command.
//
// The official plugin (1.2.1) implements no Diff of its own: infer's default
// diff (pulumi-go-provider 1.3.0, the same code in the 1.4.0 we build with)
// compares the old inputs with the new ones as property values, secretness
// included, and reports one entry per changed path ("delete",
// "environment.FOO", "triggers[0]", "connection" — the connection is secret
// as a whole, so it is compared as one value); added and removed properties
// are "add" and "delete" entries. Every entry is an update except a change of
// the whole triggers list, which the schema marks replaceOnChanges. Ours leaves
// the resources without a Diff method so the same code runs.
//
// A change inside triggers ("triggers[0]") is an update in that diff; the
// replacement comes from the npm SDK, which registers every Command with
// replaceOnChanges ["triggers[*]"], and the engine then turns each such entry
// into its replacing kind. replaceTriggers does that here, so the result is
// the same for a program, and the plugin replaces on a trigger change even
// when driven without the SDK (the Go tests).
func replaceTriggers(prov p.Provider) p.Provider {
	inner := prov.Diff
	prov.Diff = func(ctx context.Context, req p.DiffRequest) (p.DiffResponse, error) {
		resp, err := inner(ctx, req)
		if err != nil {
			return resp, err
		}
		for path, d := range resp.DetailedDiff {
			if underTriggers(path) {
				d.Kind = asReplace(d.Kind)
				resp.DetailedDiff[path] = d
			}
		}
		return resp, nil
	}
	return prov
}

// underTriggers reports whether a detailed-diff path is triggers or inside it.
func underTriggers(path string) bool {
	pp, err := presource.ParsePropertyPath(path)
	return err == nil && len(pp) > 0 && pp[0] == "triggers"
}

func asReplace(k p.DiffKind) p.DiffKind {
	switch k {
	case p.Add:
		return p.AddReplace
	case p.Delete:
		return p.DeleteReplace
	case p.Update:
		return p.UpdateReplace
	}
	return k
}
