package main

import (
	"context"
	"fmt"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"golang.org/x/crypto/bcrypt"
)

// None of these resources implements Update: infer then turns every input
// change into a replacement, which is what the official provider does (all
// of its inputs are ForceNew). Read is left to infer's default, which keeps
// the recorded state: there is nothing remote to refresh from.

// ---------------------------------------------------------------------------
// Shared inputs of RandomPassword and RandomString.

// StringArgs are the inputs of RandomPassword and RandomString. Fields with a
// documented default are pointers so that an explicit false/0 survives infer's
// default filling (which only fills zero values).
type StringArgs struct {
	Length          int               `pulumi:"length"`
	Keepers         map[string]string `pulumi:"keepers,optional"`
	Lower           *bool             `pulumi:"lower,optional"`
	Upper           *bool             `pulumi:"upper,optional"`
	Numeric         *bool             `pulumi:"numeric,optional"`
	Number          *bool             `pulumi:"number,optional"`
	Special         *bool             `pulumi:"special,optional"`
	MinLower        *int              `pulumi:"minLower,optional"`
	MinUpper        *int              `pulumi:"minUpper,optional"`
	MinNumeric      *int              `pulumi:"minNumeric,optional"`
	MinSpecial      *int              `pulumi:"minSpecial,optional"`
	OverrideSpecial *string           `pulumi:"overrideSpecial,optional"`
}

func (a *StringArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.Length, "The length of the string desired. The minimum value for length is 1 and, "+
		"length must also be >= (`minUpper` + `minLower` + `minNumeric` + `minSpecial`).")
	an.Describe(&a.Keepers, "Arbitrary map of values that, when changed, will trigger recreation of resource.")
	an.Describe(&a.Lower, "Include lowercase alphabet characters in the result. Default value is `true`.")
	an.Describe(&a.Upper, "Include uppercase alphabet characters in the result. Default value is `true`.")
	an.Describe(&a.Numeric, "Include numeric characters in the result. Default value is `true`.")
	an.Describe(&a.Number, "Include numeric characters in the result. Default value is `true`. "+
		"**NOTE**: This is deprecated, use `numeric` instead.")
	an.Deprecate(&a.Number, "**NOTE**: This is deprecated, use `numeric` instead.")
	an.Describe(&a.Special, "Include special characters in the result. These are `"+defaultSpecial+
		"`. Default value is `true`.")
	an.Describe(&a.MinLower, "Minimum number of lowercase alphabet characters in the result. Default value is `0`.")
	an.Describe(&a.MinUpper, "Minimum number of uppercase alphabet characters in the result. Default value is `0`.")
	an.Describe(&a.MinNumeric, "Minimum number of numeric characters in the result. Default value is `0`.")
	an.Describe(&a.MinSpecial, "Minimum number of special characters in the result. Default value is `0`.")
	an.Describe(&a.OverrideSpecial, "Supply your own list of special characters to use for string generation. "+
		"This overrides the default character list in the special argument.")
	for _, b := range []**bool{&a.Lower, &a.Upper, &a.Numeric, &a.Number, &a.Special} {
		an.SetDefault(b, true)
	}
	for _, n := range []**int{&a.MinLower, &a.MinUpper, &a.MinNumeric, &a.MinSpecial} {
		an.SetDefault(n, 0)
	}
}

// params converts fully defaulted args to generation parameters.
func (a StringArgs) params() genParams {
	b := func(v *bool) bool { return v == nil || *v }
	n := func(v *int) int {
		if v == nil {
			return 0
		}
		return *v
	}
	g := genParams{
		Length:  a.Length,
		Lower:   b(a.Lower),
		Upper:   b(a.Upper),
		Numeric: b(a.Numeric) && b(a.Number),
		Special: b(a.Special),

		MinLower: n(a.MinLower), MinUpper: n(a.MinUpper),
		MinNumeric: n(a.MinNumeric), MinSpecial: n(a.MinSpecial),
	}
	if a.OverrideSpecial != nil {
		g.OverrideSpecial = *a.OverrideSpecial
	}
	return g
}

// isKnown reports whether key is set in m to a known (non-computed) value.
func isKnown(m property.Map, key string) bool {
	v, ok := m.GetOk(key)
	return ok && !v.IsNull() && !v.HasComputed()
}

// anyComputed reports whether any value in m is (or contains) an unknown.
func anyComputed(m property.Map) bool {
	for _, v := range m.All {
		if v.HasComputed() {
			return true
		}
	}
	return false
}

// checkStringArgs applies defaults, keeps the deprecated `number` and its
// replacement `numeric` in sync (whichever one the program set wins), and
// validates the parameters when they are all known (preview may have
// unknowns, which are checked again at create time).
func checkStringArgs(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[StringArgs], error) {
	args, failures, err := infer.DefaultCheck[StringArgs](ctx, req.NewInputs)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[StringArgs]{Inputs: args, Failures: failures}, err
	}
	hasNumber, hasNumeric := isKnown(req.NewInputs, "number"), isKnown(req.NewInputs, "numeric")
	switch {
	case hasNumber && !hasNumeric:
		v := *args.Number
		args.Numeric = &v
	case hasNumeric && !hasNumber:
		v := *args.Numeric
		args.Number = &v
	case hasNumber && hasNumeric && *args.Number != *args.Numeric:
		failures = append(failures, p.CheckFailure{Property: "numeric",
			Reason: "numeric and its deprecated alias number are set to different values"})
	}
	if !anyComputed(req.NewInputs) {
		if err := args.params().validate(); err != nil {
			failures = append(failures, p.CheckFailure{Property: "length", Reason: err.Error()})
		}
	}
	return infer.CheckResponse[StringArgs]{Inputs: args, Failures: failures}, nil
}

// ---------------------------------------------------------------------------
// RandomPassword

// RandomPassword is random:index/randomPassword:RandomPassword.
type RandomPassword struct{}

// PasswordState is the recorded state of a RandomPassword.
type PasswordState struct {
	StringArgs
	Result     string `pulumi:"result" provider:"secret"`
	BcryptHash string `pulumi:"bcryptHash" provider:"secret"`
}

func (r *RandomPassword) Annotate(a infer.Annotator) {
	a.SetToken("index/randomPassword", "RandomPassword")
	a.Describe(r, "Identical to RandomString, but the result is treated as sensitive (secret).")
}

func (s *PasswordState) Annotate(a infer.Annotator) {
	a.Describe(&s.Result, "The generated random password.")
	a.Describe(&s.BcryptHash, "A bcrypt hash of the generated random password. If the password is "+
		"longer than 72 bytes, the hash covers its first 72 bytes.")
}

// WireDependencies marks result and bcryptHash secret in every response: the
// `provider:"secret"` tag only reaches the schema, not the returned values.
func (*RandomPassword) WireDependencies(f infer.FieldSelector, _ *StringArgs, state *PasswordState) {
	f.OutputField(&state.Result).AlwaysSecret()
	f.OutputField(&state.BcryptHash).AlwaysSecret()
}

func (*RandomPassword) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[StringArgs], error) {
	return checkStringArgs(ctx, req)
}

func (*RandomPassword) Create(ctx context.Context, req infer.CreateRequest[StringArgs]) (
	infer.CreateResponse[PasswordState], error,
) {
	state := PasswordState{StringArgs: req.Inputs}
	if req.DryRun {
		return infer.CreateResponse[PasswordState]{Output: state}, nil
	}
	result, err := generate(req.Inputs.params())
	if err != nil {
		return infer.CreateResponse[PasswordState]{}, err
	}
	// bcrypt only looks at the first 72 bytes; x/crypto rejects longer input,
	// the official provider hashes the prefix, so do that.
	secret := []byte(result)
	if len(secret) > 72 {
		secret = secret[:72]
	}
	hash, err := bcrypt.GenerateFromPassword(secret, bcrypt.DefaultCost)
	if err != nil {
		return infer.CreateResponse[PasswordState]{}, fmt.Errorf("bcrypt: %w", err)
	}
	state.Result, state.BcryptHash = result, string(hash)
	// The official provider uses the fixed ID "none" so the password never
	// appears in the (non-secret) ID.
	return infer.CreateResponse[PasswordState]{ID: "none", Output: state}, nil
}

// ---------------------------------------------------------------------------
// RandomString

// RandomString is random:index/randomString:RandomString.
type RandomString struct{}

// StringState is the recorded state of a RandomString.
type StringState struct {
	StringArgs
	Result string `pulumi:"result"`
}

func (r *RandomString) Annotate(a infer.Annotator) {
	a.SetToken("index/randomString", "RandomString")
	a.Describe(r, "Generates a random permutation of alphanumeric and special characters (not secret).")
}

func (s *StringState) Annotate(a infer.Annotator) {
	a.Describe(&s.Result, "The generated random string.")
}

func (*RandomString) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[StringArgs], error) {
	return checkStringArgs(ctx, req)
}

func (*RandomString) Create(ctx context.Context, req infer.CreateRequest[StringArgs]) (
	infer.CreateResponse[StringState], error,
) {
	state := StringState{StringArgs: req.Inputs}
	if req.DryRun {
		return infer.CreateResponse[StringState]{Output: state}, nil
	}
	result, err := generate(req.Inputs.params())
	if err != nil {
		return infer.CreateResponse[StringState]{}, err
	}
	state.Result = result
	// The official provider uses the result itself as the ID.
	return infer.CreateResponse[StringState]{ID: result, Output: state}, nil
}
