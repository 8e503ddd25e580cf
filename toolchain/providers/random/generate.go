package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
)

// Character classes, as documented by @pulumi/random.
const (
	lowerChars     = "abcdefghijklmnopqrstuvwxyz"
	upperChars     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	numericChars   = "0123456789"
	defaultSpecial = "!@#$%&*()-_=+[]{}<>:?"
)

// genParams are the fully defaulted generation parameters.
type genParams struct {
	Length                                     int
	Lower, Upper, Numeric, Special             bool
	MinLower, MinUpper, MinNumeric, MinSpecial int
	OverrideSpecial                            string
}

// specialSet returns the special characters in use.
func (g genParams) specialSet() string {
	if g.OverrideSpecial != "" {
		return g.OverrideSpecial
	}
	return defaultSpecial
}

// validate reports the first problem with g, in the words of the
// documentation ("length must also be >= minUpper + minLower + ...").
func (g genParams) validate() error {
	if g.Length < 1 {
		return fmt.Errorf("length must be at least 1, got %d", g.Length)
	}
	for name, n := range map[string]int{
		"minLower": g.MinLower, "minUpper": g.MinUpper,
		"minNumeric": g.MinNumeric, "minSpecial": g.MinSpecial,
	} {
		if n < 0 {
			return fmt.Errorf("%s must not be negative, got %d", name, n)
		}
	}
	if sum := g.MinLower + g.MinUpper + g.MinNumeric + g.MinSpecial; sum > g.Length {
		return fmt.Errorf("length (%d) must be >= minUpper + minLower + minNumeric + minSpecial (%d)",
			g.Length, sum)
	}
	if !g.Lower && !g.Upper && !g.Numeric && !g.Special {
		return errors.New("at least one of lower, upper, numeric (number) and special must be true")
	}
	return nil
}

// generate returns a random string for g using crypto/rand.
//
// As in the official provider, the min* counts are drawn from their class
// first (even if that class is otherwise disabled), the rest of the length is
// drawn from the union of the enabled classes, and the result is shuffled.
func generate(g genParams) (string, error) {
	if err := g.validate(); err != nil {
		return "", err
	}
	special := g.specialSet()
	var pool string
	if g.Lower {
		pool += lowerChars
	}
	if g.Upper {
		pool += upperChars
	}
	if g.Numeric {
		pool += numericChars
	}
	if g.Special {
		pool += special
	}
	if pool == "" {
		// Only possible when special is the sole class and overrideSpecial
		// is empty, which cannot happen (empty means default), but be safe.
		return "", errors.New("no characters available to generate from")
	}

	// Work on runes so a non-ASCII overrideSpecial cannot yield broken UTF-8.
	out := make([]rune, 0, g.Length)
	for _, req := range []struct {
		set string
		n   int
	}{
		{lowerChars, g.MinLower},
		{upperChars, g.MinUpper},
		{numericChars, g.MinNumeric},
		{special, g.MinSpecial},
	} {
		b, err := pick(req.set, req.n)
		if err != nil {
			return "", err
		}
		out = append(out, b...)
	}
	rest, err := pick(pool, g.Length-len(out))
	if err != nil {
		return "", err
	}
	out = append(out, rest...)

	// Fisher-Yates shuffle so the min* characters are not at the front.
	for i := len(out) - 1; i > 0; i-- {
		j, err := randInt(i + 1)
		if err != nil {
			return "", err
		}
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

// pick returns n characters drawn uniformly from set.
func pick(set string, n int) ([]rune, error) {
	chars := []rune(set)
	b := make([]rune, n)
	for i := range b {
		j, err := randInt(len(chars))
		if err != nil {
			return nil, err
		}
		b[i] = chars[j]
	}
	return b, nil
}

// randInt returns a uniform random int in [0, n).
func randInt(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, fmt.Errorf("reading randomness: %w", err)
	}
	return int(v.Int64()), nil
}
