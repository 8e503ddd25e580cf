// Package checkkeys makes a provider's Check reject the input keys the
// provider does not implement, as the official (Terraform-bridged) providers
// do. Every plugin under toolchain/providers wraps its provider with
// RejectUnknownKeys; package checkkeystest has the helpers their tests use.
package checkkeys

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// RejectUnknownKeys wraps prov's Check so that an input property the plugin
// does not implement fails the check the way the official (Terraform-bridged)
// providers report it: a failure whose reason is
//
//	Invalid or unknown key. Examine values at '<resource name>.<path>'.
//
// for unknown keys at the top level and inside nested objects, including
// objects in lists and maps (e.g. `uploads[0].foo`). Like the bridge, the
// failure names the path in its reason and leaves Property empty, so the CLI
// prints "<type> resource '<name>' has a problem: Invalid or unknown key. ...".
//
// The known keys are the resource's input properties in the plugin's own
// schema (which infer derives from the Args structs' `pulumi:"..."` tags), so
// there is nothing to keep in sync per resource. Keys starting with "__"
// (Pulumi-internal, such as __defaults) are accepted and not passed on to the
// resource's own Check. Map-typed inputs (environment, keepers, triggers of
// any type, ...) take any key.
func RejectUnknownKeys(prov p.Provider) p.Provider {
	inner, getSchema := prov.Check, prov.GetSchema
	var (
		once    sync.Once
		known   *keySchema
		loadErr error
	)
	prov.Check = func(ctx context.Context, req p.CheckRequest) (p.CheckResponse, error) {
		// The schema needs the provider's run info, which the request's
		// context carries; it is computed once.
		once.Do(func() { known, loadErr = loadKeySchema(ctx, getSchema) })
		if loadErr != nil {
			return p.CheckResponse{}, loadErr
		}
		props, ok := known.Resources[string(req.Urn.Type())]
		if !ok {
			return inner(ctx, req)
		}
		var unknown []string
		inputs := known.object(req.Inputs, props.InputProperties, "", &unknown)
		if len(unknown) > 0 {
			failures := make([]p.CheckFailure, len(unknown))
			for i, path := range unknown {
				failures[i] = p.CheckFailure{Reason: unknownKeyReason(req.Urn.Name(), path)}
			}
			return p.CheckResponse{Inputs: req.Inputs, Failures: failures}, nil
		}
		req.Inputs = inputs
		return inner(ctx, req)
	}
	return prov
}

// unknownKeyReason is the bridge's wording for an unknown key at path.
func unknownKeyReason(resourceName, path string) string {
	return fmt.Sprintf("Invalid or unknown key. Examine values at '%s.%s'.", resourceName, path)
}

// keySchema is the part of a Pulumi package schema that says which keys an
// input may have.
type keySchema struct {
	Resources map[string]struct {
		InputProperties map[string]*keySpec `json:"inputProperties"`
	} `json:"resources"`
	Types map[string]keyType `json:"types"`
}

// keyType is a named type of the schema; objects list their properties.
type keyType struct {
	Type       string              `json:"type"`
	Properties map[string]*keySpec `json:"properties"`
}

// keySpec is a property's type: a reference to an object type, an array, a
// map (type object with additionalProperties) or a scalar.
type keySpec struct {
	Type                 string   `json:"type"`
	Ref                  string   `json:"$ref"`
	Items                *keySpec `json:"items"`
	AdditionalProperties *keySpec `json:"additionalProperties"`
}

func loadKeySchema(ctx context.Context,
	getSchema func(context.Context, p.GetSchemaRequest) (p.GetSchemaResponse, error),
) (*keySchema, error) {
	resp, err := getSchema(ctx, p.GetSchemaRequest{Version: 1})
	if err != nil {
		return nil, fmt.Errorf("reading the provider's own schema: %w", err)
	}
	var s keySchema
	if err := json.Unmarshal([]byte(resp.Schema), &s); err != nil {
		return nil, fmt.Errorf("parsing the provider's own schema: %w", err)
	}
	return &s, nil
}

// object checks the keys of m against props, appending the paths of unknown
// keys to unknown, and returns m without its "__" keys.
func (s *keySchema) object(m property.Map, props map[string]*keySpec, path string, unknown *[]string) property.Map {
	out := make(map[string]property.Value, m.Len())
	for k, v := range m.AllStable {
		if strings.HasPrefix(k, "__") {
			continue
		}
		spec, ok := props[k]
		if !ok {
			*unknown = append(*unknown, keyPath(path, k))
			continue
		}
		out[k] = s.value(v, spec, keyPath(path, k), unknown)
	}
	return property.NewMap(out)
}

// value checks the object keys inside v (of type spec) and returns v without
// "__" keys in its objects. Values of another shape than spec says are left
// to the resource's own Check, which reports them.
func (s *keySchema) value(v property.Value, spec *keySpec, path string, unknown *[]string) property.Value {
	if spec == nil || v.IsNull() || v.IsComputed() {
		return v
	}
	switch {
	case strings.HasPrefix(spec.Ref, "#/types/"):
		t, ok := s.Types[strings.TrimPrefix(spec.Ref, "#/types/")]
		if !ok || t.Type != "object" || !v.IsMap() {
			return v
		}
		return property.WithGoValue(v, s.object(v.AsMap(), t.Properties, path, unknown))
	case spec.Type == "array" && v.IsArray():
		items := make([]property.Value, 0, v.AsArray().Len())
		for i, e := range v.AsArray().All {
			items = append(items, s.value(e, spec.Items, path+"["+strconv.Itoa(i)+"]", unknown))
		}
		return property.WithGoValue(v, property.NewArray(items))
	case spec.Type == "object" && v.IsMap() && spec.AdditionalProperties != nil:
		elems := make(map[string]property.Value, v.AsMap().Len())
		for k, e := range v.AsMap().AllStable {
			elems[k] = s.value(e, spec.AdditionalProperties, keyPath(path, k), unknown)
		}
		return property.WithGoValue(v, property.NewMap(elems))
	}
	return v
}

var identifierRE = regexp.MustCompile(`^[_a-zA-Z][-_a-zA-Z0-9]*$`)

// keyPath appends key to path as the bridge writes it: .key, or ["key"] when
// the key is not an identifier.
func keyPath(path, key string) string {
	if !identifierRE.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}
