package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

func newTestServer(t *testing.T) integration.Server {
	t.Helper()
	prov, err := newProvider()
	if err != nil {
		t.Fatal(err)
	}
	s, err := integration.NewServer(t.Context(), "docker", semver.MustParse("5.2.0"), integration.WithProvider(prov))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Configure(p.ConfigureRequest{}); err != nil {
		t.Fatal(err)
	}
	return s
}

// The schema carries the npm SDK's tokens and property names.
func TestSchemaTokensAndNames(t *testing.T) {
	s := newTestServer(t)
	resp, err := s.GetSchema(p.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Resources map[string]struct {
			InputProperties map[string]any `json:"inputProperties"`
			Properties      map[string]any `json:"properties"`
		} `json:"resources"`
	}
	if err := json.Unmarshal([]byte(resp.Schema), &schema); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"docker:index/container:Container": {"image", "envs", "networksAdvanced", "uploads", "healthcheck", "dnsSearches", "mustRun", "wait"},
		"docker:index/network:Network":     {"name", "driver", "ipamConfigs", "labels", "internal"},
		"docker:index/volume:Volume":       {"name", "driver", "driverOpts", "labels"},
		"docker:index/image:Image":         {"imageName", "build", "skipPush", "buildOnPreview", "registry"},
	}
	outputs := map[string][]string{
		"docker:index/container:Container": {"networkDatas", "exitCode", "bridge", "containerLogs"},
		"docker:index/network:Network":     {"scope"},
		"docker:index/volume:Volume":       {"mountpoint"},
		"docker:index/image:Image":         {"repoDigest", "baseImageName", "context", "dockerfile", "registryServer"},
	}
	for tok, props := range want {
		r, ok := schema.Resources[tok]
		if !ok {
			t.Fatalf("resource %s missing from schema (have %v)", tok, keys(schema.Resources))
		}
		for _, prop := range props {
			if _, ok := r.InputProperties[prop]; !ok {
				t.Errorf("%s: input %q missing", tok, prop)
			}
		}
		for _, prop := range outputs[tok] {
			if _, ok := r.Properties[prop]; !ok {
				t.Errorf("%s: output %q missing", tok, prop)
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func str(s string) property.Value    { return property.New(s) }
func secret(s string) property.Value { return property.New(s).WithSecret(true) }
func strs(ss ...string) property.Value {
	vs := make([]property.Value, len(ss))
	for i, s := range ss {
		vs[i] = property.New(s)
	}
	return property.New(vs)
}
func obj(m map[string]property.Value) property.Value { return property.New(property.NewMap(m)) }
func arr(vs ...property.Value) property.Value        { return property.New(vs) }

// The diff replaces on nested changes of replace-only inputs, updates in
// place where the official provider does, treats unknowns as changes and
// asks for delete-before-replace on name-bound resources.
func TestContainerDiffPolicy(t *testing.T) {
	pol := diffPolicies["docker:index/container:Container"]
	base := map[string]property.Value{
		"image":            str("debian:bookworm-slim"),
		"name":             str("c1"),
		"envs":             arr(secret("A=1"), str("B=2")),
		"restart":          str("no"),
		"mustRun":          property.New(true),
		"networksAdvanced": arr(obj(map[string]property.Value{"name": str("net"), "ipv4Address": str("10.1.2.3")})),
	}
	olds := property.NewMap(base)
	with := func(k string, v property.Value) property.Map { return olds.Set(k, v) }
	diff := func(news property.Map) p.DiffResponse {
		return pol.diff(p.DiffRequest{OldInputs: olds, Inputs: news, State: olds})
	}

	// Identical (secretness differences do not matter).
	if d := diff(with("envs", arr(str("A=1"), str("B=2")))); d.HasChanges {
		t.Fatalf("identical inputs gave a diff: %+v", d)
	}
	// Nested change of a replace-only input replaces, delete first.
	d := diff(with("envs", arr(secret("A=1"), str("B=3"))))
	if !d.HasChanges || d.DetailedDiff["envs"].Kind != p.UpdateReplace || !d.DeleteBeforeReplace {
		t.Fatalf("env change: want replace with deleteBeforeReplace, got %+v", d)
	}
	d = diff(with("networksAdvanced", arr(obj(map[string]property.Value{"name": str("net"), "ipv4Address": str("10.1.2.4")}))))
	if d.DetailedDiff["networksAdvanced"].Kind != p.UpdateReplace {
		t.Fatalf("ip change: want replace, got %+v", d)
	}
	// Unknown network name (dependency being replaced) replaces.
	d = diff(with("networksAdvanced", arr(obj(map[string]property.Value{"name": property.New(property.Computed), "ipv4Address": str("10.1.2.3")}))))
	if d.DetailedDiff["networksAdvanced"].Kind != p.UpdateReplace {
		t.Fatalf("unknown network: want replace, got %+v", d)
	}
	// restart updates in place.
	d = diff(with("restart", str("always")))
	if d.DetailedDiff["restart"].Kind != p.Update || d.DeleteBeforeReplace {
		t.Fatalf("restart: want update, got %+v", d)
	}
	// A stopped container (mustRun set false by Read) is recreated.
	olds = olds.Set("mustRun", property.New(false))
	d = diff(olds.Set("mustRun", property.New(true)))
	if !isReplace(d.DetailedDiff["mustRun"].Kind) {
		t.Fatalf("mustRun false->true: want replace, got %+v", d)
	}
	// Sets (as upstream): order does not matter, content does.
	if d := diff(with("envs", arr(str("B=2"), secret("A=1")))); d.HasChanges {
		t.Fatalf("reordered envs gave a diff: %+v", d)
	}
	if d := diff(with("envs", arr(str("B=2"), str("A=1"), str("A=1")))); !d.HasChanges {
		t.Fatalf("an added duplicate env gave no diff")
	}
	// Missing and empty are the same.
	olds = property.NewMap(base)
	if d := diff(with("dns", arr())); d.HasChanges {
		t.Fatalf("empty list vs missing gave a diff: %+v", d)
	}
}

// The context digest is deterministic, ignores .dockerignore'd files and
// changes with a context file, the Dockerfile or a build arg.
func TestContextDigest(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM debian:bookworm-slim\nCOPY app /app\n")
	write("app/hello.txt", "hello\n")
	write("ignored/big.bin", "x")
	write("notes.tmp", "x")
	write(".dockerignore", "ignored\n*.tmp\n")
	digest := func(args map[string]string) string {
		t.Helper()
		spec, err := resolveBuild(&DockerBuild{Context: &dir, Args: args})
		if err != nil {
			t.Fatal(err)
		}
		d, err := contextDigest(spec)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d0 := digest(nil)
	if d0 != digest(nil) {
		t.Fatal("digest is not deterministic")
	}
	write("ignored/big.bin", "y")
	write("notes.tmp", "y")
	if d := digest(nil); d != d0 {
		t.Fatal("ignored files changed the digest")
	}
	write("app/hello.txt", "hello again\n")
	d1 := digest(nil)
	if d1 == d0 {
		t.Fatal("a changed context file did not change the digest")
	}
	if digest(map[string]string{"V": "1"}) == d1 {
		t.Fatal("a build arg did not change the digest")
	}
	write("Dockerfile", "FROM debian:bookworm-slim\nCOPY app /srv\n")
	if digest(nil) == d1 {
		t.Fatal("a changed Dockerfile did not change the digest")
	}
	// Everything but the ignored files is in the tar.
	spec, _ := resolveBuild(&DockerBuild{Context: &dir})
	entries, err := contextEntries(spec)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.rel)
	}
	want := []string{".dockerignore", "Dockerfile", "app", "app/hello.txt"}
	if len(names) != len(want) {
		t.Fatalf("context entries %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("context entries %v, want %v", names, want)
		}
	}
}

// Image.Check refuses pushes and records the context digest.
func TestImageCheck(t *testing.T) {
	s := newTestServer(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM debian:bookworm-slim\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	urn := testURN("docker:index/image:Image", "img")
	build := obj(map[string]property.Value{"context": str(dir)})
	resp, err := s.Check(p.CheckRequest{Urn: urn, Inputs: property.NewMap(map[string]property.Value{
		"imageName": str("mstest/x:1"), "build": build, "skipPush": property.New(false),
	})})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Failures) != 1 || resp.Failures[0].Property != "skipPush" {
		t.Fatalf("want a skipPush failure, got %+v", resp.Failures)
	}
	resp, err = s.Check(p.CheckRequest{Urn: urn, Inputs: property.NewMap(map[string]property.Value{
		"imageName": str("mstest/x:1"), "build": build, "skipPush": property.New(true),
	})})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("check: %v %+v", err, resp.Failures)
	}
	if d := resp.Inputs.Get("contextDigest"); !d.IsString() || len(d.AsString()) != len("sha256:")+64 {
		t.Fatalf("contextDigest not set: %v", d)
	}
}

func isReplace(k p.DiffKind) bool {
	return k == p.AddReplace || k == p.UpdateReplace || k == p.DeleteReplace
}

// A preview with unknown inputs (a network and a secret that do not exist
// yet) checks and "creates" without touching Docker, and keeps them unknown.
func TestPreviewWithUnknowns(t *testing.T) {
	s := newTestServer(t)
	urn := testURN("docker:index/container:Container", "mx")
	unknown := property.New(property.Computed)
	resp, err := s.Check(p.CheckRequest{Urn: urn, Inputs: property.NewMap(map[string]property.Value{
		"image": unknown,
		"name":  str("mstest-preview"),
		"envs":  arr(unknown, str("A=1")),
		"networksAdvanced": arr(obj(map[string]property.Value{
			"name": unknown, "ipv4Address": str("10.9.9.9"),
		})),
		"uploads": arr(obj(map[string]property.Value{"file": str("/etc/x"), "content": unknown})),
	})})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("check with unknowns: %v %+v", err, resp.Failures)
	}
	if !resp.Inputs.Get("image").IsComputed() || !field(resp.Inputs, "networksAdvanced", 0, "name").IsComputed() {
		t.Fatalf("unknowns lost in check: %v", resp.Inputs)
	}
	cr, err := s.Create(p.CreateRequest{Urn: urn, Properties: resp.Inputs, DryRun: true})
	if err != nil {
		t.Fatalf("preview create: %v", err)
	}
	// (Absent outputs are unknown in a preview, too.)
	if nd, ok := cr.Properties.GetOk("networkDatas"); (ok && !nd.IsComputed()) || !cr.Properties.Get("image").IsComputed() || !cr.Properties.Get("bridge").IsComputed() {
		t.Fatalf("preview outputs should be unknown: %v", cr.Properties)
	}

	// Image with an unknown build context: no digest yet, no failure.
	iurn := testURN("docker:index/image:Image", "img")
	ir, err := s.Check(p.CheckRequest{Urn: iurn, Inputs: property.NewMap(map[string]property.Value{
		"imageName": str("mstest/x:1"), "skipPush": property.New(true), "build": obj(map[string]property.Value{"context": unknown}),
	})})
	if err != nil || len(ir.Failures) > 0 {
		t.Fatalf("image check with unknown context: %v %+v", err, ir.Failures)
	}
	if _, err := s.Create(p.CreateRequest{Urn: iurn, Properties: ir.Inputs, DryRun: true}); err != nil {
		t.Fatalf("image preview: %v", err)
	}
}

// Provider configuration changes update the provider, never replace it.
func TestConfigDiffNeverReplaces(t *testing.T) {
	s := newTestServer(t)
	d, err := s.DiffConfig(p.DiffRequest{
		Urn:       "urn:pulumi:test::mail::pulumi:providers:docker::default",
		OldInputs: property.NewMap(map[string]property.Value{"host": str("unix:///var/run/docker.sock")}),
		State:     property.NewMap(map[string]property.Value{"host": str("unix:///var/run/docker.sock")}),
		Inputs:    property.NewMap(map[string]property.Value{"host": str("tcp://127.0.0.1:2375")}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !d.HasChanges || d.DetailedDiff["host"].Kind != p.Update {
		t.Fatalf("host change: want an update, got %+v", d)
	}
}

// A relative dockerfile is program-relative (as upstream), falling back to
// context-relative; the default is <context>/Dockerfile.
func TestResolveDockerfile(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	for _, f := range []string{"app/Dockerfile", "app/Dockerfile.ctx", "docker/prod.Dockerfile"} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := "./app"
	for df, want := range map[string]string{
		"":                       filepath.Join(root, "app/Dockerfile"),
		"docker/prod.Dockerfile": filepath.Join(root, "docker/prod.Dockerfile"),
		"Dockerfile.ctx":         filepath.Join(root, "app/Dockerfile.ctx"),
		"./app/Dockerfile":       filepath.Join(root, "app/Dockerfile"),
	} {
		b := &DockerBuild{Context: &ctx}
		if df != "" {
			b.Dockerfile = ptr(df)
		}
		spec, err := resolveBuild(b)
		if err != nil {
			t.Fatalf("dockerfile %q: %v", df, err)
		}
		if spec.dockerfile != want {
			t.Errorf("dockerfile %q resolved to %s, want %s", df, spec.dockerfile, want)
		}
	}
	if _, err := resolveBuild(&DockerBuild{Context: &ctx, Dockerfile: ptr("nope")}); err == nil {
		t.Fatal("a missing dockerfile must fail")
	}
}

// Registry credentials changes do not rebuild an image (only the server).
func TestImageRegistryDiff(t *testing.T) {
	pol := diffPolicies["docker:index/image:Image"]
	reg := func(server, pass string) property.Value {
		return obj(map[string]property.Value{"server": str(server), "username": str("u"), "password": secret(pass)})
	}
	olds := property.NewMap(map[string]property.Value{"imageName": str("x:1"), "registry": reg("r.example", "a")})
	if d := pol.diff(p.DiffRequest{OldInputs: olds, Inputs: olds.Set("registry", reg("r.example", "b"))}); d.HasChanges {
		t.Fatalf("password change gave a diff: %+v", d)
	}
	if d := pol.diff(p.DiffRequest{OldInputs: olds, Inputs: olds.Set("registry", reg("s.example", "a"))}); d.DetailedDiff["registry"].Kind != p.Update {
		t.Fatalf("server change: %+v", d)
	}
	if d := pol.diff(p.DiffRequest{OldInputs: olds, Inputs: olds.Set("imageName", str("x:2"))}); d.DetailedDiff["imageName"].Kind != p.UpdateReplace || d.DeleteBeforeReplace {
		t.Fatalf("imageName change: %+v", d)
	}
}

// Errors never carry env values or upload contents.
func TestRedact(t *testing.T) {
	a := ContainerArgs{Envs: []string{"DB_PASSWORD=hunter22", "X=1"}, Uploads: []ContainerUpload{{File: "/f", Content: ptr("s3cr3t-file")}}}
	err := redact(fmt.Errorf("daemon: invalid env DB_PASSWORD=hunter22 and s3cr3t-file"), a)
	if got := err.Error(); strings.Contains(got, "hunter22") || strings.Contains(got, "s3cr3t-file") || !strings.Contains(got, "[secret]") {
		t.Fatalf("not redacted: %q", got)
	}
	if err := redact(nil, a); err != nil {
		t.Fatal(err)
	}
}

// Upload owners and groups: numbers are used as they are, names are looked
// up in this host's user and group databases (never the container's), and a
// name the host does not know fails naming the upload and the name.
func TestUploadOwnerGroupFromHost(t *testing.T) {
	users := map[string]string{"mailer": "4242"}
	groups := map[string]string{"mailgrp": "4343"}
	fake := func(db map[string]string, unknown func(string) error) func(string) (string, error) {
		return func(name string) (string, error) {
			if id, ok := db[name]; ok {
				return id, nil
			}
			return "", unknown(name)
		}
	}
	oldUser, oldGroup := lookupHostUser, lookupHostGroup
	t.Cleanup(func() { lookupHostUser, lookupHostGroup = oldUser, oldGroup })
	lookupHostUser = fake(users, func(n string) error { return user.UnknownUserError(n) })
	lookupHostGroup = fake(groups, func(n string) error { return user.UnknownGroupError(n) })

	s := func(v string) *string { return &v }
	buf, err := uploadArchive([]ContainerUpload{
		{File: "/a", Content: s("a"), Owner: s("mailer"), Group: s("mailgrp")},
		{File: "/b", Content: s("b"), Owner: s("1001"), Group: s("1002")},
		{File: "/c", Content: s("c")},
		{File: "/d", Content: s("d"), Owner: s("mailer")},
	}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{"a": {4242, 4343}, "b": {1001, 1002}, "c": {0, 0}, "d": {4242, 0}}
	tr := tar.NewReader(buf)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if w := want[hdr.Name]; hdr.Uid != w[0] || hdr.Gid != w[1] {
			t.Errorf("%s: uid:gid %d:%d, want %d:%d", hdr.Name, hdr.Uid, hdr.Gid, w[0], w[1])
		}
		delete(want, hdr.Name)
	}
	if len(want) > 0 {
		t.Errorf("files missing from the archive: %v", want)
	}

	for _, c := range []struct {
		upload ContainerUpload
		want   string
	}{
		{ContainerUpload{File: "/etc/x.conf", Content: s("x"), Owner: s("postfix")},
			`upload /etc/x.conf: owner "postfix" does not exist on this host`},
		{ContainerUpload{File: "/etc/y.conf", Content: s("y"), Owner: s("mailer"), Group: s("opendkim")},
			`upload /etc/y.conf: group "opendkim" does not exist on this host`},
	} {
		_, err := uploadArchive([]ContainerUpload{c.upload}, time.Unix(0, 0))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error containing %q, got %v", c.want, err)
		}
	}

	// The real databases: this host's current user by name.
	lookupHostUser, lookupHostGroup = oldUser, oldGroup
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	uid, err := hostID("owner", me.Username, lookupHostUser)
	if err != nil || strconv.Itoa(uid) != me.Uid {
		t.Fatalf("owner %s: %d %v, want %s", me.Username, uid, err, me.Uid)
	}
}

// Volumes and networks: every input is ForceNew upstream, so any change
// (labels included, in any order) replaces, deleting first (the name is
// taken); identical inputs give no diff.
func TestVolumeAndNetworkDiffPolicy(t *testing.T) {
	label := func(k, v string) property.Value {
		return obj(map[string]property.Value{"label": str(k), "value": str(v)})
	}
	for tok, base := range map[string]map[string]property.Value{
		tokVolume: {"name": str("v1"), "driver": str("local"), "labels": arr(label("a", "1"), label("b", "2"))},
		tokNetwork: {"name": str("n1"), "driver": str("bridge"), "labels": arr(label("a", "1"), label("b", "2")),
			"ipamConfigs": arr(obj(map[string]property.Value{"subnet": str("10.9.0.0/24"), "gateway": str("10.9.0.1")}))},
	} {
		pol := diffPolicies[tok]
		olds := property.NewMap(base)
		diff := func(news property.Map) p.DiffResponse {
			return pol.diff(p.DiffRequest{OldInputs: olds, Inputs: news, State: olds})
		}
		if d := diff(olds.Set("labels", arr(label("b", "2"), label("a", "1")))); d.HasChanges {
			t.Errorf("%s: reordered labels gave a diff: %+v", tok, d)
		}
		for _, change := range []property.Map{
			olds.Set("labels", arr(label("a", "1"), label("b", "3"))),
			olds.Set("name", str("other")),
		} {
			d := diff(change)
			if !d.HasChanges || !d.DeleteBeforeReplace {
				t.Errorf("%s: want a replace, delete first: %+v", tok, d)
			}
			for k, v := range d.DetailedDiff {
				if !isReplace(v.Kind) {
					t.Errorf("%s: %s: want a replace, got %v", tok, k, v.Kind)
				}
			}
		}
		if tok == tokNetwork {
			d := diff(olds.Set("ipamConfigs", arr(obj(map[string]property.Value{"subnet": str("10.9.1.0/24"), "gateway": str("10.9.1.1")}))))
			if !isReplace(d.DetailedDiff["ipamConfigs"].Kind) || !d.DeleteBeforeReplace {
				t.Errorf("network: an IPAM change must replace, delete first: %+v", d)
			}
		}
	}
}

// capabilities and securityOpts are ForceNew sets upstream (`capabilities`
// with `add`/`drop` sets, `security_opts` a set): any change replaces the
// container, delete first; order does not matter.
func TestContainerSecurityDiff(t *testing.T) {
	pol := diffPolicies["docker:index/container:Container"]
	caps := func(adds ...string) property.Value {
		return obj(map[string]property.Value{"drops": strs("ALL"), "adds": strs(adds...)})
	}
	olds := property.NewMap(map[string]property.Value{
		"image":        str("debian:bookworm-slim"),
		"name":         str("c1"),
		"capabilities": caps("CAP_SETUID", "CAP_SETGID"),
		"securityOpts": strs("no-new-privileges:true", "apparmor=docker-default"),
	})
	diff := func(news property.Map) p.DiffResponse {
		return pol.diff(p.DiffRequest{OldInputs: olds, Inputs: news, State: olds})
	}
	if d := diff(olds.Set("capabilities", caps("CAP_SETGID", "CAP_SETUID")).
		Set("securityOpts", strs("apparmor=docker-default", "no-new-privileges:true"))); d.HasChanges {
		t.Fatalf("reordered sets gave a diff: %+v", d)
	}
	for _, c := range []struct {
		key string
		v   property.Value
	}{
		{"capabilities", caps("CAP_SETUID", "CAP_SETGID", "CAP_KILL")},
		{"capabilities", obj(map[string]property.Value{"adds": strs("CAP_SETUID", "CAP_SETGID")})},
		{"securityOpts", strs("no-new-privileges:true")},
	} {
		d := diff(olds.Set(c.key, c.v))
		if !d.HasChanges || !isReplace(d.DetailedDiff[c.key].Kind) || !d.DeleteBeforeReplace || len(d.DetailedDiff) != 1 {
			t.Fatalf("%s change: want replace, delete first, got %+v", c.key, d)
		}
	}
	// Set where there was none (an existing container being hardened): replace.
	bare := olds.Delete("capabilities").Delete("securityOpts")
	d := pol.diff(p.DiffRequest{OldInputs: bare, Inputs: olds, State: bare})
	if !isReplace(d.DetailedDiff["capabilities"].Kind) || !isReplace(d.DetailedDiff["securityOpts"].Kind) || !d.DeleteBeforeReplace {
		t.Fatalf("added capabilities and securityOpts: want replace, got %+v", d)
	}
}
