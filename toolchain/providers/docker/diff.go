package main

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// Why our own diff: infer's default diff only honours replaceOnChanges for
// top-level keys, but reports nested changes under paths like `envs[0]`, which
// then become in-place updates. For Docker almost everything must replace, so
// we diff old inputs against new inputs per top-level property ourselves,
// working on the raw property maps so unknown values (previews, replacement
// of dependencies) count as changes.

// diffPolicy describes how a resource reacts to input changes.
type diffPolicy struct {
	// inputs is the set of input property names (used when the engine does
	// not send old inputs and we must take them from the state).
	inputs map[string]bool
	// updatable lists the inputs whose change is applied in place; a change
	// of any other input replaces the resource.
	updatable map[string]bool
	// replaceIf may force a replace for a change of an updatable input.
	replaceIf func(key string, old, new property.Value) bool
	// normalize, if set, maps a value to what matters for the diff.
	normalize func(key string, v property.Value) property.Value
	// deleteBeforeReplace is set for resources bound to a unique name or
	// address (containers, networks, volumes, local image tags).
	deleteBeforeReplace bool
}

var diffPolicies = map[string]diffPolicy{
	"docker:index/network:Network": {
		inputs:              inputKeys(NetworkArgs{}),
		normalize:           setsOf("labels", "ipamConfigs"),
		deleteBeforeReplace: true,
	},
	"docker:index/volume:Volume": {
		inputs:              inputKeys(VolumeArgs{}),
		normalize:           setsOf("labels"),
		deleteBeforeReplace: true,
	},
	"docker:index/container:Container": {
		inputs:    inputKeys(ContainerArgs{}),
		updatable: containerUpdatable,
		replaceIf: containerReplaceIf,
		// The official provider keeps these as sets: order does not matter.
		normalize: setsOf("envs", "dns", "dnsOpts", "dnsSearches", "labels", "volumes", "mounts", "uploads",
			"networksAdvanced", "ulimits", "hosts", "groupAdds", "securityOpts", "devices", "capabilities"),
		deleteBeforeReplace: true,
	},
	"docker:index/image:Image": {
		inputs:    inputKeys(ImageArgs{}),
		updatable: set("build", "buildOnPreview", "registry", "skipPush", "contextDigest"),
		normalize: imageNormalize,
	},
}

var configKeys = set("host", "certPath", "caMaterial", "certMaterial", "keyMaterial", "context",
	"registryAuth", "sshOpts", "disableDockerDaemonCheck")

// configDiffPolicy: provider configuration changes are updates.
var configDiffPolicy = diffPolicy{inputs: configKeys, updatable: configKeys}

func (pol diffPolicy) diff(req p.DiffRequest) p.DiffResponse {
	olds := req.OldInputs
	if olds.Len() == 0 {
		// Engines that do not send old inputs: our states embed the inputs
		// under the same names.
		olds = req.State
	}
	ignored := set(req.IgnoreChanges...)
	keys := map[string]bool{}
	for k := range req.Inputs.All {
		keys[k] = true
	}
	for k := range olds.All {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		if k == "version" || strings.HasPrefix(k, "__") || ignored[k] || !pol.inputs[k] {
			continue
		}
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)

	detailed := map[string]p.PropertyDiff{}
	replace := false
	for _, k := range sorted {
		o, n := olds.Get(k), req.Inputs.Get(k)
		if pol.normalize != nil {
			o, n = pol.normalize(k, o), pol.normalize(k, n)
		}
		if equalValues(o, n) {
			continue
		}
		r := !pol.updatable[k] || (pol.replaceIf != nil && pol.replaceIf(k, o, n))
		replace = replace || r
		detailed[k] = p.PropertyDiff{Kind: diffKind(o, n, r), InputDiff: true}
	}
	return p.DiffResponse{
		HasChanges:          len(detailed) > 0,
		DetailedDiff:        detailed,
		DeleteBeforeReplace: replace && pol.deleteBeforeReplace,
	}
}

// setsOf returns a normalizer that treats the given inputs as sets: every
// list inside them is compared regardless of order.
func setsOf(keys ...string) func(string, property.Value) property.Value {
	sets := set(keys...)
	return func(key string, v property.Value) property.Value {
		if sets[key] {
			return sortedDeep(v)
		}
		return v
	}
}

// sortedDeep sorts every list within v by a canonical rendering of its
// elements.
func sortedDeep(v property.Value) property.Value {
	switch {
	case v.IsArray():
		elems := make([]property.Value, 0, v.AsArray().Len())
		for _, e := range v.AsArray().All {
			elems = append(elems, sortedDeep(e))
		}
		sort.SliceStable(elems, func(i, j int) bool { return canonical(elems[i]) < canonical(elems[j]) })
		return property.New(elems).WithSecret(v.Secret())
	case v.IsMap():
		m := map[string]property.Value{}
		for k, e := range v.AsMap().All {
			m[k] = sortedDeep(e)
		}
		return property.New(property.NewMap(m)).WithSecret(v.Secret())
	}
	return v
}

// canonical renders a value deterministically, ignoring secretness.
func canonical(v property.Value) string {
	switch {
	case v.IsComputed():
		return "\x00unknown"
	case v.IsNull():
		return "null"
	case v.IsString():
		return strconv.Quote(v.AsString())
	case v.IsArray():
		parts := []string{}
		for _, e := range v.AsArray().All {
			parts = append(parts, canonical(e))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case v.IsMap():
		parts := []string{}
		for k, e := range v.AsMap().AllStable {
			parts = append(parts, strconv.Quote(k)+":"+canonical(e))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	return fmt.Sprint(v.WithSecret(false).WithDependencies(nil).GoString())
}

// imageNormalize: as upstream, registry credentials may change freely; only
// the server matters.
func imageNormalize(key string, v property.Value) property.Value {
	if key == "registry" && v.IsMap() {
		return property.New(property.NewMap(map[string]property.Value{"server": v.AsMap().Get("server")}))
	}
	return v
}

func diffKind(o, n property.Value, replace bool) p.DiffKind {
	switch {
	case isEmpty(o) && !n.IsComputed():
		if replace {
			return p.AddReplace
		}
		return p.Add
	case isEmpty(n) && !n.IsComputed():
		if replace {
			return p.DeleteReplace
		}
		return p.Delete
	case replace:
		return p.UpdateReplace
	default:
		return p.Update
	}
}

// equalValues compares two input values ignoring secretness and
// dependencies. Unknown values are never equal to anything. A missing value
// equals the zero value of any type (false, 0, "", [], {}), because the
// provider treats them alike.
func equalValues(a, b property.Value) bool {
	if a.IsComputed() || b.IsComputed() {
		return false
	}
	if isEmpty(a) || isEmpty(b) {
		return isEmpty(a) && isEmpty(b)
	}
	switch {
	case a.IsBool() && b.IsBool():
		return a.AsBool() == b.AsBool()
	case a.IsNumber() && b.IsNumber():
		return a.AsNumber() == b.AsNumber()
	case a.IsString() && b.IsString():
		return a.AsString() == b.AsString()
	case a.IsArray() && b.IsArray():
		x, y := a.AsArray(), b.AsArray()
		if x.Len() != y.Len() {
			return false
		}
		for i := 0; i < x.Len(); i++ {
			if !equalValues(x.Get(i), y.Get(i)) {
				return false
			}
		}
		return true
	case a.IsMap() && b.IsMap():
		x, y := a.AsMap(), b.AsMap()
		for k, v := range x.All {
			if !equalValues(v, y.Get(k)) {
				return false
			}
		}
		for k, v := range y.All {
			if !equalValues(x.Get(k), v) {
				return false
			}
		}
		return true
	default:
		// Different kinds, assets, archives, references: compare strictly
		// but without secrets/dependencies.
		return a.WithSecret(false).WithDependencies(nil).Equals(b.WithSecret(false).WithDependencies(nil))
	}
}

// isEmpty reports a null or zero value (unknowns are not empty).
func isEmpty(v property.Value) bool {
	switch {
	case v.IsNull():
		return true
	case v.IsBool():
		return !v.AsBool()
	case v.IsNumber():
		return v.AsNumber() == 0
	case v.IsString():
		return v.AsString() == ""
	case v.IsArray():
		return v.AsArray().Len() == 0
	case v.IsMap():
		for _, e := range v.AsMap().All {
			if !isEmpty(e) {
				return false
			}
		}
		return true
	}
	return false
}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// inputKeys returns the `pulumi:"name"` tags of an args struct (including
// embedded structs).
func inputKeys(v any) map[string]bool {
	keys := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(v)) {
		tag := f.Tag.Get("pulumi")
		if tag == "" || f.Anonymous {
			continue
		}
		keys[strings.Split(tag, ",")[0]] = true
	}
	return keys
}
