package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/blang/semver"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// These tests drive the provider against the real local Docker engine with
// the local image debian:bookworm-slim (nothing is pulled).

const testImage = "debian:bookworm-slim"

const (
	tokNetwork   = "docker:index/network:Network"
	tokVolume    = "docker:index/volume:Volume"
	tokContainer = "docker:index/container:Container"
	tokImage     = "docker:index/image:Image"
)

func testURN(tok, name string) presource.URN {
	return presource.NewURN("test", "mail", "", tokens.Type(tok), name)
}

type harness struct {
	t      *testing.T
	s      integration.Server
	cl     *client.Client
	prefix string // every Docker object the test makes is named with it
}

func newHarness(t *testing.T) *harness {
	cl, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Skipf("no Docker client: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := cl.Ping(ctx); err != nil {
		t.Skipf("no Docker daemon reachable (%v); these tests need a local engine", err)
	}
	if _, err := cl.ImageInspect(ctx, testImage); err != nil {
		t.Skipf("local image %s is missing (%v); it cannot be pulled here", testImage, err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	h := &harness{t: t, s: newTestServer(t), cl: cl, prefix: "mstest-" + hex.EncodeToString(b)}
	t.Cleanup(h.sweep)
	return h
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(h.t.Context(), time.Minute)
	h.t.Cleanup(cancel)
	return ctx
}

func (h *harness) check(tok, name string, olds, news property.Map) property.Map {
	h.t.Helper()
	resp, err := h.s.Check(p.CheckRequest{Urn: testURN(tok, name), State: olds, Inputs: news})
	if err != nil || len(resp.Failures) > 0 {
		h.t.Fatalf("check %s: %v %+v", name, err, resp.Failures)
	}
	return resp.Inputs
}

// create previews, then creates, like `pulumi up`.
func (h *harness) create(tok, name string, inputs property.Map) (string, property.Map) {
	h.t.Helper()
	urn := testURN(tok, name)
	if _, err := h.s.Create(p.CreateRequest{Urn: urn, Properties: inputs, DryRun: true}); err != nil {
		h.t.Fatalf("preview create %s: %v", name, err)
	}
	resp, err := h.s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err != nil {
		h.t.Fatalf("create %s: %v", name, err)
	}
	return resp.ID, resp.Properties
}

func (h *harness) diff(tok, name, id string, oldInputs, state, news property.Map) p.DiffResponse {
	h.t.Helper()
	resp, err := h.s.Diff(p.DiffRequest{Urn: testURN(tok, name), ID: id, OldInputs: oldInputs, State: state, Inputs: news})
	if err != nil {
		h.t.Fatalf("diff %s: %v", name, err)
	}
	return resp
}

func (h *harness) update(tok, name, id string, oldInputs, state, news property.Map) property.Map {
	h.t.Helper()
	urn := testURN(tok, name)
	req := p.UpdateRequest{Urn: urn, ID: id, State: state, OldInputs: oldInputs, Inputs: news, DryRun: true}
	if _, err := h.s.Update(req); err != nil {
		h.t.Fatalf("preview update %s: %v", name, err)
	}
	req.DryRun = false
	resp, err := h.s.Update(req)
	if err != nil {
		h.t.Fatalf("update %s: %v", name, err)
	}
	return resp.Properties
}

func (h *harness) read(tok, name, id string, inputs, state property.Map) p.ReadResponse {
	h.t.Helper()
	resp, err := h.s.Read(p.ReadRequest{Urn: testURN(tok, name), ID: id, Inputs: inputs, Properties: state})
	if err != nil {
		h.t.Fatalf("read %s: %v", name, err)
	}
	return resp
}

func (h *harness) delete(tok, name, id string, state property.Map) {
	h.t.Helper()
	if err := h.s.Delete(p.DeleteRequest{Urn: testURN(tok, name), ID: id, Properties: state}); err != nil {
		h.t.Fatalf("delete %s: %v", name, err)
	}
}

// exec runs a command in a container and returns its stdout; it fails the
// test on a non-zero exit.
func (h *harness) exec(id string, cmd ...string) string {
	h.t.Helper()
	ctx := h.ctx()
	ex, err := h.cl.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		h.t.Fatalf("exec %v: %v", cmd, err)
	}
	att, err := h.cl.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		h.t.Fatalf("exec %v: %v", cmd, err)
	}
	defer att.Close()
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, att.Reader); err != nil {
		h.t.Fatalf("exec %v: %v", cmd, err)
	}
	insp, err := h.cl.ContainerExecInspect(ctx, ex.ID)
	if err != nil || insp.ExitCode != 0 {
		h.t.Fatalf("exec %v: exit %d %v: %s", cmd, insp.ExitCode, err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

// freeSubnet picks a random 10.x.y.0/24 that overlaps no Docker network and
// no address of this host.
func (h *harness) freeSubnet() string {
	h.t.Helper()
	var used []*net.IPNet
	nets, err := h.cl.NetworkList(h.ctx(), network.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if _, ipn, err := net.ParseCIDR(c.Subnet); err == nil {
				used = append(used, ipn)
			}
		}
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			used = append(used, ipn)
		}
	}
	for range 100 {
		x, _ := rand.Int(rand.Reader, big.NewInt(100))
		y, _ := rand.Int(rand.Reader, big.NewInt(256))
		prefix := fmt.Sprintf("10.%d.%d", 100+x.Int64(), y.Int64())
		_, cand, _ := net.ParseCIDR(prefix + ".0/24")
		free := true
		for _, u := range used {
			if u.Contains(cand.IP) || cand.Contains(u.IP) {
				free = false
			}
		}
		if free {
			return prefix
		}
	}
	h.t.Fatal("no free 10.x.y.0/24")
	return ""
}

// sweep removes whatever the test left behind (only objects named with its
// prefix).
func (h *harness) sweep() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs, _ := h.cl.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", h.prefix))})
	for _, c := range cs {
		_ = h.cl.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}
	ns, _ := h.cl.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", h.prefix))})
	for _, n := range ns {
		_ = h.cl.NetworkRemove(ctx, n.ID)
	}
	vs, _ := h.cl.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("name", h.prefix))})
	for _, v := range vs.Volumes {
		_ = h.cl.VolumeRemove(ctx, v.Name, true)
	}
	imgs, _ := h.cl.ImageList(ctx, image.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("reference", h.prefix+"*"))})
	for _, img := range imgs {
		_, _ = h.cl.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true})
	}
}

// leftovers lists the Docker objects named with the prefix.
func (h *harness) leftovers() []string {
	ctx := h.ctx()
	var out []string
	cs, _ := h.cl.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", h.prefix))})
	for _, c := range cs {
		out = append(out, "container "+strings.Join(c.Names, ","))
	}
	ns, _ := h.cl.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", h.prefix))})
	for _, n := range ns {
		out = append(out, "network "+n.Name)
	}
	vs, _ := h.cl.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("name", h.prefix))})
	for _, v := range vs.Volumes {
		out = append(out, "volume "+v.Name)
	}
	return out
}

func num(n float64) property.Value { return property.New(n) }

func field(m property.Map, path ...any) property.Value {
	v := property.New(m)
	for _, step := range path {
		switch k := step.(type) {
		case string:
			v = v.AsMap().Get(k)
		case int:
			v = v.AsArray().Get(k)
		}
	}
	return v
}

// TestMailLifecycle: network with a subnet → volume → container with a fixed
// IP, DNS, secret env, uploads with modes, a healthcheck and wait → checks in
// the running container → no-op diff → in-place update → replace → stopped
// container recreated after refresh → delete everything.
func TestMailLifecycle(t *testing.T) {
	h := newHarness(t)
	subnet := h.freeSubnet()
	netName := h.prefix + "-net"
	ip := subnet + ".10"

	// --- Network ---
	netIn := h.check(tokNetwork, "net", property.Map{}, property.NewMap(map[string]property.Value{
		"name": str(netName),
		"ipamConfigs": arr(obj(map[string]property.Value{
			"subnet": str(subnet + ".0/24"), "gateway": str(subnet + ".1"),
		})),
		"labels": arr(obj(map[string]property.Value{"label": str("mstest"), "value": str(h.prefix)})),
	}))
	if got := netIn.Get("driver").AsString(); got != "bridge" {
		t.Fatalf("network driver default: %q", got)
	}
	netID, netOut := h.create(tokNetwork, "net", netIn)
	n, err := h.cl.NetworkInspect(h.ctx(), netID, network.InspectOptions{})
	if err != nil || n.Name != netName || len(n.IPAM.Config) != 1 || n.IPAM.Config[0].Subnet != subnet+".0/24" || n.Labels["mstest"] != h.prefix {
		t.Fatalf("network as created: %+v %v", n, err)
	}
	if netOut.Get("scope").AsString() != "local" {
		t.Fatalf("network scope output: %v", netOut.Get("scope"))
	}
	if d := h.diff(tokNetwork, "net", netID, netIn, netOut, h.check(tokNetwork, "net", netIn, netIn)); d.HasChanges {
		t.Fatalf("network: identical inputs gave a diff: %+v", d)
	}
	if d := h.diff(tokNetwork, "net", netID, netIn, netOut, netIn.Set("internal", property.New(true))); !isReplace(d.DetailedDiff["internal"].Kind) || !d.DeleteBeforeReplace {
		t.Fatalf("network: a change must replace (delete first): %+v", d)
	}
	// The engine retries a create that ended with an init error (a Ctrl-C
	// while it was reading the network back) as an update with unchanged
	// inputs: it must finish, not fail as "not implemented".
	if up := h.update(tokNetwork, "net", netID, netIn, netIn.Set("scope", str("")), netIn); up.Get("scope").AsString() != "local" || up.Get("name").AsString() != netName {
		t.Fatalf("network update after an init error: %v", up)
	}
	// A second network with the same name is refused, not duplicated.
	dupIn := h.check(tokNetwork, "dup", property.Map{}, property.NewMap(map[string]property.Value{"name": str(netName)}))
	if _, err := h.s.Create(p.CreateRequest{Urn: testURN(tokNetwork, "dup"), Properties: dupIn}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate network name: want an error, got %v", err)
	}

	// --- Volume (auto-named) ---
	volIn := h.check(tokVolume, h.prefix+"-vol", property.Map{}, property.Map{})
	volName := volIn.Get("name").AsString()
	if !strings.HasPrefix(volName, h.prefix+"-vol-") || len(volName) != len(h.prefix+"-vol-")+7 {
		t.Fatalf("volume autoname: %q", volName)
	}
	// Auto-names are stable across updates.
	if again := h.check(tokVolume, h.prefix+"-vol", volIn, property.Map{}); again.Get("name").AsString() != volName {
		t.Fatalf("volume name changed on re-check: %v", again.Get("name"))
	}
	volID, volOut := h.create(tokVolume, h.prefix+"-vol", volIn)
	if volID != volName || volOut.Get("mountpoint").AsString() == "" {
		t.Fatalf("volume: id %q outputs %v", volID, volOut)
	}

	// --- Container ---
	cName := h.prefix + "-mx"
	owner := hostAccount(t)
	containerIn := func(token string) property.Map {
		return property.NewMap(map[string]property.Value{
			"image":       str(testImage),
			"name":        str(cName),
			"command":     strs("sh", "-c", "trap 'exit 0' TERM; touch /tmp/started; while :; do sleep 1; done"),
			"envs":        arr(secret("SECRET_TOKEN="+token), str("PLAIN=1")),
			"hostname":    str("mx"),
			"dns":         strs(subnet + ".53"),
			"dnsSearches": strs("mail.test"),
			"networksAdvanced": arr(obj(map[string]property.Value{
				"name": str(netName), "ipv4Address": str(ip), "aliases": strs("mx"),
			})),
			"uploads": arr(
				obj(map[string]property.Value{"file": str("/etc/app/secret.conf"), "content": secret("password=hunter2\n"), "permissions": str("0640")}),
				obj(map[string]property.Value{"file": str("/usr/local/bin/hello"), "content": str("#!/bin/sh\necho hello\n"), "executable": property.New(true)}),
				obj(map[string]property.Value{"file": str("/srv/owned.txt"), "contentBase64": str("b3duZWQ="), "owner": str(owner.Username), "group": str("4321")}),
			),
			"healthcheck": obj(map[string]property.Value{
				"tests":    strs("CMD-SHELL", "test -f /tmp/started && test -s /etc/app/secret.conf"),
				"interval": str("1s"), "timeout": str("2s"), "retries": num(3),
			}),
			"wait":                property.New(true),
			"waitTimeout":         num(30),
			"volumes":             arr(obj(map[string]property.Value{"volumeName": str(volName), "containerPath": str("/data")})),
			"labels":              arr(obj(map[string]property.Value{"label": str("mstest"), "value": str(h.prefix)})),
			"destroyGraceSeconds": num(5),
			"logDriver":           str("json-file"),
			"logOpts":             obj(map[string]property.Value{"max-size": str("1m"), "max-file": str("2")}),
		})
	}
	progIn := containerIn("s3cr3t")
	cIn := h.check(tokContainer, "mx", property.Map{}, progIn)
	for k, want := range map[string]any{"restart": "no", "mustRun": true, "start": true, "removeVolumes": true, "networkMode": "bridge"} {
		if got := cIn.Get(k); (got.IsString() && got.AsString() != want) || (got.IsBool() && got.AsBool() != want) || got.IsNull() {
			t.Errorf("container default %s = %v, want %v", k, got, want)
		}
	}
	start := time.Now()
	cID, cOut := h.create(tokContainer, "mx", cIn)
	t.Logf("container created and healthy in %s", time.Since(start).Round(time.Millisecond))

	// Outputs: secrets stay secret, network data is reported.
	if !cOut.Get("envs").HasSecrets() || !cOut.Get("uploads").HasSecrets() {
		t.Fatalf("secret inputs are not secret in the outputs: envs=%v uploads=%v", cOut.Get("envs"), cOut.Get("uploads"))
	}
	if got := field(cOut, "networkDatas", 0, "ipAddress").AsString(); got != ip {
		t.Fatalf("networkDatas[0].ipAddress = %q, want %q", got, ip)
	}
	if got := field(cOut, "networkDatas", 0, "networkName").AsString(); got != netName {
		t.Fatalf("networkDatas[0].networkName = %q", got)
	}

	// The real container.
	ci, err := h.cl.ContainerInspect(h.ctx(), cID)
	if err != nil {
		t.Fatal(err)
	}
	if !ci.State.Running || ci.State.Health == nil || ci.State.Health.Status != container.Healthy {
		t.Fatalf("container state: %+v health %+v", ci.State, ci.State.Health)
	}
	if len(ci.NetworkSettings.Networks) != 1 || ci.NetworkSettings.Networks[netName] == nil || ci.NetworkSettings.Networks[netName].IPAddress != ip {
		t.Fatalf("container networks: %+v", ci.NetworkSettings.Networks)
	}
	if lc := ci.HostConfig.LogConfig; lc.Type != "json-file" || lc.Config["max-size"] != "1m" || lc.Config["max-file"] != "2" {
		t.Fatalf("container log config: %+v", lc)
	}
	if got := h.exec(cID, "printenv", "SECRET_TOKEN"); got != "s3cr3t" {
		t.Fatalf("env SECRET_TOKEN = %q", got)
	}
	if got := h.exec(cID, "stat", "-c", "%a %U:%G", "/etc/app/secret.conf"); got != "640 root:root" {
		t.Fatalf("uploaded file mode/owner = %q", got)
	}
	if got := h.exec(cID, "cat", "/etc/app/secret.conf"); got != "password=hunter2" {
		t.Fatalf("uploaded file content = %q", got)
	}
	if got := h.exec(cID, "stat", "-c", "%a", "/usr/local/bin/hello"); got != "744" {
		t.Fatalf("executable upload mode = %q", got)
	}
	// The owner's name was resolved on this host (the deployer's), the
	// number used as is.
	if got := h.exec(cID, "stat", "-c", "%a %u:%g", "/srv/owned.txt"); got != "644 "+owner.Uid+":4321" {
		t.Fatalf("owned upload = %q, want owner %s (%s on this host) and group 4321", got, owner.Uid, owner.Username)
	}
	if got := h.exec(cID, "cat", "/srv/owned.txt"); got != "owned" {
		t.Fatalf("base64 upload = %q", got)
	}
	if got := h.exec(cID, "/usr/local/bin/hello"); got != "hello" {
		t.Fatalf("running the uploaded script: %q", got)
	}
	// On a user-defined network the container asks Docker's embedded DNS
	// (127.0.0.11), which forwards to the configured servers.
	if len(ci.HostConfig.DNS) != 1 || ci.HostConfig.DNS[0] != subnet+".53" {
		t.Fatalf("HostConfig.DNS = %v", ci.HostConfig.DNS)
	}
	if resolv := h.exec(cID, "cat", "/etc/resolv.conf"); !strings.Contains(resolv, "search mail.test") {
		t.Fatalf("resolv.conf:\n%s", resolv)
	}
	if got := h.exec(cID, "hostname"); got != "mx" {
		t.Fatalf("hostname = %q", got)
	}
	if got := h.exec(cID, "sh", "-c", "echo ok > /data/probe && cat /data/probe"); got != "ok" {
		t.Fatalf("volume mount: %q", got)
	}

	// Identical inputs: no diff. A changed env: replace, delete first.
	cIn2 := h.check(tokContainer, "mx", cIn, progIn)
	if d := h.diff(tokContainer, "mx", cID, cIn, cOut, cIn2); d.HasChanges {
		t.Fatalf("container: identical inputs gave a diff: %+v", d)
	}
	envChanged := h.check(tokContainer, "mx", cIn, containerIn("n3w"))
	if d := h.diff(tokContainer, "mx", cID, cIn, cOut, envChanged); !d.HasChanges || d.DetailedDiff["envs"].Kind != p.UpdateReplace || !d.DeleteBeforeReplace || len(d.DetailedDiff) != 1 {
		t.Fatalf("container: env change must replace (delete first): %+v", d)
	}

	// restart changes in place.
	restartIn := h.check(tokContainer, "mx", cIn, progIn.Set("restart", str("unless-stopped")))
	d := h.diff(tokContainer, "mx", cID, cIn, cOut, restartIn)
	if d.DetailedDiff["restart"].Kind != p.Update || d.DeleteBeforeReplace {
		t.Fatalf("container: restart must update in place: %+v", d)
	}
	// Its preview keeps unrelated outputs known (dependents are not shown
	// as replaced).
	pv, err := h.s.Update(p.UpdateRequest{Urn: testURN(tokContainer, "mx"), ID: cID, State: cOut, OldInputs: cIn, Inputs: restartIn, DryRun: true})
	if err != nil || pv.Properties.Get("networkDatas").HasComputed() || field(pv.Properties, "networkDatas", 0, "ipAddress").AsString() != ip {
		t.Fatalf("update preview: networkDatas should stay known: %v %v", err, pv.Properties.Get("networkDatas"))
	}
	cOut = h.update(tokContainer, "mx", cID, cIn, cOut, restartIn)
	cIn = restartIn
	if ci, _ := h.cl.ContainerInspect(h.ctx(), cID); ci.HostConfig.RestartPolicy.Name != "unless-stopped" || !ci.State.Running {
		t.Fatalf("restart policy after update: %+v running=%v", ci.HostConfig.RestartPolicy, ci.State.Running)
	}

	// Refresh of a running container changes nothing.
	rr := h.read(tokContainer, "mx", cID, cIn, cOut)
	if rr.ID != cID || !rr.Inputs.Get("mustRun").AsBool() {
		t.Fatalf("read of a running container: %+v", rr)
	}
	if d := h.diff(tokContainer, "mx", cID, rr.Inputs, rr.Properties, h.check(tokContainer, "mx", rr.Inputs, progIn.Set("restart", str("unless-stopped")))); d.HasChanges {
		t.Fatalf("diff after refresh: %+v", d)
	}

	// A stopped container: refresh marks it, the next update recreates it.
	timeout := 5
	if err := h.cl.ContainerStop(h.ctx(), cID, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	rr = h.read(tokContainer, "mx", cID, cIn, cOut)
	if rr.ID != cID || rr.Inputs.Get("mustRun").AsBool() {
		t.Fatalf("read of a stopped container should set mustRun=false: %v", rr.Inputs.Get("mustRun"))
	}
	d = h.diff(tokContainer, "mx", cID, rr.Inputs, rr.Properties, h.check(tokContainer, "mx", rr.Inputs, progIn.Set("restart", str("unless-stopped"))))
	if !isReplace(d.DetailedDiff["mustRun"].Kind) || !d.DeleteBeforeReplace {
		t.Fatalf("stopped container must be replaced: %+v", d)
	}

	// The replacement, as the engine runs it: delete, then create with the
	// new env on the same name and IP.
	h.delete(tokContainer, "mx", cID, rr.Properties)
	if _, err := h.cl.ContainerInspect(h.ctx(), cID); !isNotFound(err) {
		t.Fatalf("container still exists after delete: %v", err)
	}
	h.delete(tokContainer, "mx", cID, rr.Properties) // already gone: fine
	cID2, cOut2 := h.create(tokContainer, "mx", envChanged)
	if cID2 == cID {
		t.Fatal("replacement has the old ID")
	}
	if got := h.exec(cID2, "printenv", "SECRET_TOKEN"); got != "n3w" {
		t.Fatalf("env after replace = %q", got)
	}
	if got := field(cOut2, "networkDatas", 0, "ipAddress").AsString(); got != ip {
		t.Fatalf("IP after replace = %q", got)
	}
	if got := h.exec(cID2, "cat", "/data/probe"); got != "ok" {
		t.Fatalf("named volume data did not survive the replace: %q", got)
	}
	// Delete the container first, then the volume and network (reverse
	// dependency order, as the engine does).
	h.delete(tokContainer, "mx", cID2, cOut2)

	// A failing healthcheck fails the create with the health output and
	// leaves nothing behind.
	badIn := h.check(tokContainer, "bad", property.Map{}, property.NewMap(map[string]property.Value{
		"image":               str(testImage),
		"name":                str(h.prefix + "-bad"),
		"command":             strs("sleep", "60"),
		"healthcheck":         obj(map[string]property.Value{"tests": strs("CMD-SHELL", "echo not-ready-yet; exit 1"), "interval": str("1s"), "retries": num(1)}),
		"wait":                property.New(true),
		"waitTimeout":         num(4),
		"destroyGraceSeconds": num(1),
	}))
	_, err = h.s.Create(p.CreateRequest{Urn: testURN(tokContainer, "bad"), Properties: badIn})
	if err == nil || !strings.Contains(err.Error(), "did not become healthy") || !strings.Contains(err.Error(), "not-ready-yet") {
		t.Fatalf("unhealthy container: want an error with the health output, got %v", err)
	}

	h.delete(tokVolume, h.prefix+"-vol", volID, volOut)
	if _, err := h.cl.VolumeInspect(h.ctx(), volName); !isNotFound(err) {
		t.Fatalf("volume still exists: %v", err)
	}
	h.delete(tokNetwork, "net", netID, netOut)
	if rr := h.read(tokNetwork, "net", netID, netIn, netOut); rr.ID != "" {
		t.Fatalf("read of a deleted network must report it gone, got %q", rr.ID)
	}
	h.delete(tokNetwork, "net", netID, netOut) // already gone: fine

	if left := h.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestImageBuild: build from a temp context, no diff when unchanged (or when
// only ignored files change), update with a new image ID when a file changes.
func TestImageBuild(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM "+testImage+"\nCOPY hello.txt /hello.txt\n")
	write("hello.txt", "hello v1\n")
	write(".dockerignore", "scratch.txt\n")
	write("scratch.txt", "ignored\n")
	imageName := h.prefix + "-app:latest"
	prog := property.NewMap(map[string]property.Value{
		"imageName": str(imageName),
		"skipPush":  property.New(true),
		"build":     obj(map[string]property.Value{"context": str(dir), "args": obj(map[string]property.Value{"UNUSED": str("x")})}),
	})
	in := h.check(tokImage, "app", property.Map{}, prog)
	id, out := h.create(tokImage, "app", in)
	if id != imageName {
		t.Fatalf("image ID %q, want the image name", id)
	}
	digest1 := out.Get("repoDigest").AsString()
	img, err := h.cl.ImageInspect(h.ctx(), imageName)
	if err != nil || img.ID != digest1 || !strings.HasPrefix(digest1, "sha256:") {
		t.Fatalf("built image: repoDigest %q, inspect %q %v", digest1, img.ID, err)
	}
	if got := out.Get("dockerfile").AsString(); got != "Dockerfile" {
		t.Fatalf("dockerfile output %q", got)
	}
	if got := h.fileInImage(imageName, "/hello.txt"); got != "hello v1\n" {
		t.Fatalf("/hello.txt in image = %q", got)
	}

	// Unchanged, and only an ignored file changed: no diff.
	if d := h.diff(tokImage, "app", id, in, out, h.check(tokImage, "app", in, prog)); d.HasChanges {
		t.Fatalf("unchanged context gave a diff: %+v", d)
	}
	write("scratch.txt", "still ignored\n")
	if d := h.diff(tokImage, "app", id, in, out, h.check(tokImage, "app", in, prog)); d.HasChanges {
		t.Fatalf("ignored file gave a diff: %+v", d)
	}

	// A changed file: update (rebuild), new image ID.
	write("hello.txt", "hello v2\n")
	in2 := h.check(tokImage, "app", in, prog)
	d := h.diff(tokImage, "app", id, in, out, in2)
	if !d.HasChanges || d.DetailedDiff["contextDigest"].Kind != p.Update {
		t.Fatalf("changed file: want an update of contextDigest, got %+v", d)
	}
	out2 := h.update(tokImage, "app", id, in, out, in2)
	digest2 := out2.Get("repoDigest").AsString()
	if digest2 == digest1 || !strings.HasPrefix(digest2, "sha256:") {
		t.Fatalf("rebuild: repoDigest %q (before %q)", digest2, digest1)
	}
	if got := h.fileInImage(imageName, "/hello.txt"); got != "hello v2\n" {
		t.Fatalf("/hello.txt after rebuild = %q", got)
	}

	// A broken Dockerfile fails with the build's message.
	write("Dockerfile", "FROM "+testImage+"\nRUN exit 3\n")
	_, err = h.s.Update(p.UpdateRequest{Urn: testURN(tokImage, "app"), ID: id, State: out2, OldInputs: in2, Inputs: h.check(tokImage, "app", in2, prog)})
	if err == nil || !strings.Contains(err.Error(), "returned a non-zero code: 3") {
		t.Fatalf("failing build: want the build error, got %v", err)
	}

	// Delete leaves the tag (as documented); the test removes its images.
	h.delete(tokImage, "app", id, out2)
	if _, err := h.cl.ImageInspect(h.ctx(), imageName); err != nil {
		t.Fatalf("image delete must leave the tag: %v", err)
	}
	for _, ref := range []string{imageName, digest1, digest2} {
		_, _ = h.cl.ImageRemove(h.ctx(), ref, image.RemoveOptions{Force: true, PruneChildren: true})
	}
	if _, err := h.cl.ImageInspect(h.ctx(), imageName); !isNotFound(err) {
		t.Fatalf("test image not removed: %v", err)
	}
}

// A Dockerfile outside the context is sent under a generated name.
func TestImageDockerfileOutsideContext(t *testing.T) {
	h := newHarness(t)
	root := t.TempDir()
	ctxDir := filepath.Join(root, "ctx")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "a.txt"), []byte("A\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	df := filepath.Join(root, "build.Dockerfile")
	if err := os.WriteFile(df, []byte("FROM "+testImage+"\nARG WHO\nCOPY a.txt /a.txt\nRUN echo \"$WHO\" > /who\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	imageName := h.prefix + "-outside:1"
	in := h.check(tokImage, "outside", property.Map{}, property.NewMap(map[string]property.Value{
		"imageName": str(imageName), "skipPush": property.New(true),
		"build": obj(map[string]property.Value{"context": str(ctxDir), "dockerfile": str(df), "args": obj(map[string]property.Value{"WHO": str("postmaster")})}),
	}))
	_, out := h.create(tokImage, "outside", in)
	defer h.cl.ImageRemove(h.ctx(), out.Get("repoDigest").AsString(), image.RemoveOptions{Force: true, PruneChildren: true})
	if got := h.fileInImage(imageName, "/a.txt"); got != "A\n" {
		t.Fatalf("/a.txt = %q", got)
	}
	if got := h.fileInImage(imageName, "/who"); got != "postmaster\n" {
		t.Fatalf("build arg: /who = %q", got)
	}
}

// A one-shot container with attach/logs: runs to completion, reports its
// exit code and logs.
func TestContainerAttachLogs(t *testing.T) {
	h := newHarness(t)
	in := h.check(tokContainer, "job", property.Map{}, property.NewMap(map[string]property.Value{
		"image":   str(testImage),
		"name":    str(h.prefix + "-job"),
		"command": strs("sh", "-c", "echo hello from job; echo oops >&2; exit 3"),
		"attach":  property.New(true),
		"logs":    property.New(true),
		"mustRun": property.New(false),
	}))
	id, out := h.create(tokContainer, "job", in)
	if got := out.Get("exitCode"); !got.IsNumber() || got.AsNumber() != 3 {
		t.Fatalf("exitCode = %v", got)
	}
	// stdout and stderr are logged separately; their order may vary.
	if got := out.Get("containerLogs").AsString(); len(got) != len("hello from job\noops\n") ||
		!strings.Contains(got, "hello from job\n") || !strings.Contains(got, "oops\n") {
		t.Fatalf("containerLogs = %q", got)
	}
	// Refresh of a finished job with mustRun=false changes nothing.
	if rr := h.read(tokContainer, "job", id, in, out); rr.ID != id || rr.Inputs.Get("mustRun").AsBool() {
		t.Fatalf("read of finished job: %+v", rr)
	}
	h.delete(tokContainer, "job", id, out)
	if left := h.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestContainerEntrypoints: `entrypoints` replaces the image's entrypoint
// (Docker's Entrypoint), `command` is passed to it as its arguments, and an
// upload is in place before it starts (the program's supervisor is both).
func TestContainerEntrypoints(t *testing.T) {
	h := newHarness(t)
	in := h.check(tokContainer, "ep", property.Map{}, property.NewMap(map[string]property.Value{
		"image":       str(testImage),
		"name":        str(h.prefix + "-ep"),
		"entrypoints": strs("/usr/local/bin/ep"),
		"command":     strs("one", "two"),
		"uploads": property.New([]property.Value{property.New(map[string]property.Value{
			"file":        str("/usr/local/bin/ep"),
			"content":     str("#!/bin/sh\necho \"entrypoint got: $*\"\n"),
			"permissions": str("0755"),
		})}),
		"attach":  property.New(true),
		"logs":    property.New(true),
		"mustRun": property.New(false),
	}))
	id, out := h.create(tokContainer, "ep", in)
	if got := out.Get("containerLogs").AsString(); got != "entrypoint got: one two\n" {
		t.Fatalf("containerLogs = %q", got)
	}
	h.delete(tokContainer, "ep", id, out)
	if left := h.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// fileInImage reads a file from an image through a created (never started)
// container.
func (h *harness) fileInImage(ref, path string) string {
	h.t.Helper()
	ctx := h.ctx()
	c, err := h.cl.ContainerCreate(ctx, &container.Config{Image: ref, Cmd: []string{"true"}}, nil, nil, nil, h.prefix+"-probe")
	if err != nil {
		h.t.Fatal(err)
	}
	defer h.cl.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	rc, _, err := h.cl.CopyFromContainer(ctx, c.ID, path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		h.t.Fatal(err)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

// TestContainerMissingImage: an image that is neither present nor pullable
// fails the create clearly.
func TestContainerMissingImage(t *testing.T) {
	h := newHarness(t)
	in := h.check(tokContainer, "missing", property.Map{}, property.NewMap(map[string]property.Value{
		"name": str(h.prefix + "-missing"), "image": str(h.prefix + "-no-such-image:1"),
	}))
	_, err := h.s.Create(p.CreateRequest{Urn: testURN(tokContainer, "missing"), Properties: in})
	if err == nil || !strings.Contains(err.Error(), "could not be pulled") {
		t.Fatalf("missing image: want a clear pull error, got %v", err)
	}
}

// hostAccount is an account of this host with a non-zero uid if there is
// one ("nobody"), else the current user.
func hostAccount(t *testing.T) *user.User {
	if u, err := user.Lookup("nobody"); err == nil {
		return u
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestContainerUploadUnknownOwner: an upload owner that is not an account of
// this host fails the create, naming the upload and the name, and leaves no
// container behind.
func TestContainerUploadUnknownOwner(t *testing.T) {
	h := newHarness(t)
	in := h.check(tokContainer, "owner", property.Map{}, property.NewMap(map[string]property.Value{
		"name": str(h.prefix + "-owner"), "image": str(testImage),
		"command": strs("sleep", "60"),
		"uploads": arr(obj(map[string]property.Value{
			"file": str("/etc/app.conf"), "content": str("x"), "owner": str("mstest-no-such-user"),
		})),
	}))
	_, err := h.s.Create(p.CreateRequest{Urn: testURN(tokContainer, "owner"), Properties: in})
	if err == nil || !strings.Contains(err.Error(), `upload /etc/app.conf: owner "mstest-no-such-user" does not exist on this host`) {
		t.Fatalf("want a clear unknown-owner error, got %v", err)
	}
	t.Log(err)
	if left := h.leftovers(); len(left) > 0 {
		t.Fatalf("failed create left %v", left)
	}
}

// TestContainerCreateCancelled: a `pulumi up` interrupted while a container
// waits to become healthy (the engine cancels the provider's requests) leaves
// no container behind: the next up could not create one with its name.
func TestContainerCreateCancelled(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	prov, err := newProvider()
	if err != nil {
		t.Fatal(err)
	}
	s, err := integration.NewServer(ctx, "docker", semver.MustParse("5.2.0"), integration.WithProvider(prov))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Configure(p.ConfigureRequest{}); err != nil {
		t.Fatal(err)
	}
	in := h.check(tokContainer, "cancelled", property.Map{}, property.NewMap(map[string]property.Value{
		"image":       str(testImage),
		"name":        str(h.prefix + "-cancelled"),
		"command":     strs("sleep", "300"),
		"wait":        property.New(true),
		"waitTimeout": property.New(120.0),
		"healthcheck": property.New(property.NewMap(map[string]property.Value{
			"tests":    strs("CMD", "false"),
			"interval": str("1s"),
			"retries":  property.New(100.0),
		})),
	}))
	time.AfterFunc(3*time.Second, cancel)
	if _, err := s.Create(p.CreateRequest{Urn: testURN(tokContainer, "cancelled"), Properties: in}); err == nil {
		t.Fatal("create succeeded although it was cancelled while waiting for health")
	}
	if left := h.leftovers(); len(left) > 0 {
		t.Fatalf("left behind after a cancelled create: %v", left)
	}
}

// TestContainerCapabilitiesAndSecurityOpts: `capabilities` (drops, adds) and
// `securityOpts` reach the container as Docker's CapDrop, CapAdd and
// SecurityOpt: its processes have exactly the capabilities added back, and
// no-new-privileges holds.
func TestContainerCapabilitiesAndSecurityOpts(t *testing.T) {
	h := newHarness(t)
	in := h.check(tokContainer, "caps", property.Map{}, property.NewMap(map[string]property.Value{
		"image":        str(testImage),
		"name":         str(h.prefix + "-caps"),
		"command":      strs("sh", "-c", "grep -E '^(CapBnd|CapEff|NoNewPrivs):' /proc/self/status"),
		"capabilities": obj(map[string]property.Value{"drops": strs("ALL"), "adds": strs("CAP_SETUID", "CAP_NET_BIND_SERVICE")}),
		"securityOpts": strs("no-new-privileges:true"),
		"attach":       property.New(true),
		"logs":         property.New(true),
		"mustRun":      property.New(false),
	}))
	id, out := h.create(tokContainer, "caps", in)
	// CAP_SETUID is bit 7, CAP_NET_BIND_SERVICE bit 10.
	logs := out.Get("containerLogs").AsString()
	for _, want := range []string{"CapBnd:\t0000000000000480\n", "CapEff:\t0000000000000480\n", "NoNewPrivs:\t1\n"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("container's status lacks %q:\n%s", want, logs)
		}
	}
	c, err := h.cl.ContainerInspect(h.ctx(), id)
	if err != nil {
		t.Fatal(err)
	}
	adds := append([]string(nil), c.HostConfig.CapAdd...)
	sort.Strings(adds)
	if got := fmt.Sprint(c.HostConfig.CapDrop, adds, c.HostConfig.SecurityOpt); got != "[ALL] [CAP_NET_BIND_SERVICE CAP_SETUID] [no-new-privileges:true]" {
		t.Fatalf("HostConfig: %s", got)
	}
	if got := field(out, "capabilities", "adds"); !got.IsArray() || got.AsArray().Len() != 2 {
		t.Fatalf("state capabilities.adds = %v", got)
	}
	h.delete(tokContainer, "caps", id, out)
	if left := h.leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}
