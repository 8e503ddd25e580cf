package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// Every call to the daemon is bounded. These are the budgets.
const (
	apiTimeout    = 60 * time.Second // inspect, create, connect, remove, ...
	pullTimeout   = 10 * time.Minute // pulling one image
	buildTimeout  = 30 * time.Minute // one image build
	attachTimeout = 30 * time.Minute // waiting for an attached container to exit
	removeRetry   = 30 * time.Second // retrying removal of networks/volumes still in use
)

// withTimeout bounds one daemon call.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

func isNotFound(err error) bool { return err != nil && cerrdefs.IsNotFound(err) }
func isConflict(err error) bool { return err != nil && cerrdefs.IsConflict(err) }

// sleepCtx waits d or until ctx is done (then it returns the context error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// autoname returns `<base>-<7 random hex chars>`, the usual Pulumi auto-name.
func autoname(base string) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return base + "-" + hex.EncodeToString(b)[:7]
}

// nameFor implements Pulumi auto-naming for an optional `name` input: keep a
// given name, else reuse the previous one, else generate one.
func nameFor(news, olds property.Map, resourceName string) property.Map {
	if v, ok := news.GetOk("name"); ok && (v.IsComputed() || (v.IsString() && v.AsString() != "")) {
		return news
	}
	if v, ok := olds.GetOk("name"); ok && v.IsString() && v.AsString() != "" {
		return news.Set("name", property.New(v.AsString()))
	}
	return news.Set("name", property.New(autoname(resourceName)))
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

// labelsMap converts `[{label, value}]` to a map.
func labelsMap(ls []Label) map[string]string {
	if len(ls) == 0 {
		return nil
	}
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Label] = l.Value
	}
	return m
}

// Label is the SDK's `{label, value}` pair used by containers, networks and
// volumes.
type Label struct {
	Label string `pulumi:"label"`
	Value string `pulumi:"value"`
}
