package main

import (
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"golang.org/x/crypto/ssh"
)

func TestRemoteCommandLifecycle(t *testing.T) {
	sshd := startSSHD(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	r := newResource(t, server(t), remoteType, "remote")
	in := map[string]any{
		"connection": sshd.connection(map[string]any{"hostKey": sshd.hostKey}),
		// The test sshd accepts ACCEPTED_* and PULUMI_COMMAND_STDOUT, not
		// PULUMI_COMMAND_STDERR: refused, it is left out (a warning), as the
		// official plugin does, and the command runs.
		"environment": map[string]string{"ACCEPTED_A": `it's "$HOME" \n`},
		"create":      `cd ` + dir + ` && echo "A=$ACCEPTED_A" | tee -a log; cat; echo oops >&2`,
		"update":      `cd ` + dir + ` && echo "update prev=[$PULUMI_COMMAND_STDOUT] err=[${PULUMI_COMMAND_STDERR-unset}]" | tee -a log`,
		"delete":      `cd ` + dir + ` && echo "delete prev=[$PULUMI_COMMAND_STDOUT] err=[$PULUMI_COMMAND_STDERR]" >> log`,
		"stdin":       "line from stdin\n",
	}
	r.mustCreate(in)
	first := `A=it's "$HOME" \n` + "\nline from stdin"
	if r.str("stdout") != first || r.str("stderr") != "oops" {
		t.Fatalf("stdout=%q stderr=%q", r.str("stdout"), r.str("stderr"))
	}
	if !r.state.Get("connection").Secret() {
		t.Errorf("connection must be secret in state")
	}
	if d, _ := r.diff(in); d.HasChanges {
		t.Fatalf("unexpected diff: %+v", d)
	}

	// Like the official plugin, a change of only a dial setting of the
	// connection runs update (the connection is secret, so Diff reports it
	// as one value).
	in["connection"] = sshd.connection(map[string]any{"hostKey": sshd.hostKey, "perDialTimeout": 7})
	d, _ := r.diff(in)
	wantDiff(t, d, map[string]p.DiffKind{"connection": p.Update})
	if err := r.update(in); err != nil {
		t.Fatal(err)
	}
	afterDial := "update prev=[" + first + "] err=[unset]"
	if r.str("stdout") != afterDial {
		t.Fatalf("dial-setting change: stdout = %q, want %q", r.str("stdout"), afterDial)
	}

	// Changing stdin runs update with the previous stdout.
	in["stdin"] = "other"
	d, _ = r.diff(in)
	wantDiff(t, d, map[string]p.DiffKind{"stdin": p.Update})
	if err := r.update(in); err != nil {
		t.Fatal(err)
	}
	want := "update prev=[" + afterDial + "] err=[unset]"
	if r.str("stdout") != want {
		t.Fatalf("update stdout = %q, want %q", r.str("stdout"), want)
	}

	in["triggers"] = []any{"x"}
	if d, _ := r.diff(in); !replaces(d) {
		t.Fatalf("triggers change must replace: %+v", d)
	}

	if err := r.delete(); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, log)
	wantLog := `A=it's "$HOME" \n` + "\n" + afterDial + "\n" + want + "\n" +
		"delete prev=[" + want + "] err=[]\n"
	if got != wantLog {
		t.Fatalf("log = %q, want %q", got, wantLog)
	}
}

// A variable of `environment` the SSH server refuses fails the command, as
// with the official plugin (which needs AcceptEnv for it): nothing runs.
func TestRemoteCommandRefusedEnvironmentFails(t *testing.T) {
	sshd := startSSHD(t)
	dir := t.TempDir()
	r := newResource(t, server(t), remoteType, "refused")
	err := r.create(map[string]any{
		"connection":  sshd.connection(map[string]any{"hostKey": sshd.hostKey}),
		"environment": map[string]string{"ACCEPTED_A": "1", "OTHER": "2"},
		"create":      `touch ` + dir + `/ran`,
	})
	if err == nil || !strings.Contains(err.Error(), `could not set environment variable "OTHER"`) {
		t.Fatalf("create: err = %v, want the refused variable named", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, "ran")); statErr == nil {
		t.Fatalf("the command ran although its environment was refused")
	}
}

// Rotating the private key changes only the connection's credentials; like
// the official plugin, that runs the update command, over the new key.
func TestRemoteCommandCredentialsChangeRunsUpdate(t *testing.T) {
	sshd := startSSHD(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	r := newResource(t, server(t), remoteType, "rotate")
	// The npm SDK sends the connection as one secret.
	conn := func(key string, timeout int) property.Value {
		return pv(sshd.connection(map[string]any{"privateKey": key, "hostKey": sshd.hostKey,
			"perDialTimeout": timeout})).WithSecret(true)
	}
	in := map[string]any{
		"connection": conn(sshd.privateKey, 5),
		"create":     `echo created | tee -a ` + dir + `/log`,
		"update":     `echo "updated after [$PULUMI_COMMAND_STDOUT]" | tee -a ` + dir + `/log`,
	}
	r.mustCreate(in)
	if d, _ := r.diff(in); d.HasChanges {
		t.Fatalf("unexpected diff: %+v", d)
	}

	// The host now accepts only the new key, and the program switches to it.
	sshd.authorizeOnly(t, sshd.otherPrivateKey)
	in["connection"] = conn(sshd.otherPrivateKey, 5)
	d, _ := r.diff(in)
	wantDiff(t, d, map[string]p.DiffKind{"connection": p.Update})
	if err := r.update(in); err != nil {
		t.Fatal(err)
	}
	if r.str("stdout") != "updated after [created]" {
		t.Fatalf("stdout = %q", r.str("stdout"))
	}
	if got := readFile(t, log); got != "created\nupdated after [created]\n" {
		t.Fatalf("log = %q", got)
	}
	if !r.state.Get("connection").Secret() || r.state.Get("stdout").Secret() {
		t.Fatalf("only the connection should be secret: %v", r.state)
	}

	// Without an update command, create runs again.
	in["connection"] = conn(sshd.otherPrivateKey, 9)
	delete(in, "update")
	d, _ = r.diff(in)
	wantDiff(t, d, map[string]p.DiffKind{"connection": p.Update, "update": p.Delete})
	if err := r.update(in); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, log); got != "created\nupdated after [created]\ncreated\n" {
		t.Fatalf("log = %q", got)
	}
}

func TestRemoteCommandFailures(t *testing.T) {
	sshd := startSSHD(t)
	s := server(t)

	r := newResource(t, s, remoteType, "fail")
	err := r.create(map[string]any{"connection": sshd.connection(nil),
		"create": "echo 'disk full' >&2; exit 4", "logging": "none"})
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "4") {
		t.Fatalf("error must carry stderr and exit status: %v", err)
	}

	// Nothing listening: retried dialErrorLimit times with a backoff.
	start := time.Now()
	r = newResource(t, s, remoteType, "closed")
	err = r.create(map[string]any{"connection": map[string]any{
		"host": "127.0.0.1", "port": freePort(t), "privateKey": sshd.privateKey,
		"dialErrorLimit": 2, "perDialTimeout": 1}, "create": "true"})
	if err == nil || !strings.Contains(err.Error(), "after 2 attempt(s)") {
		t.Fatalf("closed port: %v", err)
	}
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond {
		t.Errorf("no backoff between attempts (%s)", elapsed)
	}
}

func TestRemoteCommandViaProxy(t *testing.T) {
	sshd := startSSHD(t)
	r := newResource(t, server(t), remoteType, "proxied")
	// The npm SDK sends the whole connection as a secret; accept that.
	conn := pv(sshd.connection(map[string]any{"proxy": sshd.connection(nil)})).WithSecret(true)
	in := map[string]any{"connection": conn, "create": "echo through the bastion"}
	r.mustCreate(in)
	if r.str("stdout") != "through the bastion" {
		t.Fatalf("stdout = %q", r.str("stdout"))
	}
	if r.state.Get("stdout").Secret() || !r.state.Get("connection").Secret() {
		t.Fatalf("only the connection should be secret: %v", r.state)
	}
	if d, _ := r.diff(in); d.HasChanges {
		t.Fatalf("unexpected diff: %+v", d)
	}
}

func fileAsset(t *testing.T, path string) property.Value {
	a, err := asset.FromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	return property.New(a)
}

// Check fills in the connection's documented defaults.
func TestRemoteCommandCheckDefaults(t *testing.T) {
	resp, err := server(t).Check(p.CheckRequest{Urn: urn(remoteType, "check"), Inputs: props(map[string]any{
		"connection": map[string]any{"host": "127.0.0.1"}, "create": "true"})})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("check: %v %+v", err, resp.Failures)
	}
	// As the official plugin tags it: the whole connection is secret.
	if !resp.Inputs.Get("connection").Secret() {
		t.Errorf("checked connection should be secret: %v", resp.Inputs)
	}
	c := resp.Inputs.Get("connection").AsMap()
	if c.Get("port").AsNumber() != 22 || c.Get("user").AsString() != "root" ||
		c.Get("dialErrorLimit").AsNumber() != 10 || c.Get("perDialTimeout").AsNumber() != 15 {
		t.Fatalf("connection defaults not applied: %v", c)
	}
}

// hostKey as the official provider checks it (1.2.1, remote/connection.go):
// ssh.FixedHostKey, only the key's own type offered, x/crypto's error text;
// a mismatch is a failed dial like any other (retried up to dialErrorLimit).
func TestRemoteCommandHostKey(t *testing.T) {
	sshd := startSSHD(t)
	s := server(t)
	run := func(name string, conn map[string]any) error {
		return newResource(t, s, remoteType, name).create(map[string]any{"connection": sshd.connection(conn), "create": "true"})
	}

	if err := run("right", map[string]any{"hostKey": sshd.hostKey}); err != nil {
		t.Fatalf("the host's own key must be accepted: %v", err)
	}
	// Another ed25519 key: the server offers its ed25519 key, which does not match.
	wrong := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBQCWZ4I6LC/uvM8nJn0ceTBr5e2/3PRuGlR+YptBc+O"
	err := run("wrong", map[string]any{"hostKey": wrong, "dialErrorLimit": 2})
	if err == nil || !strings.Contains(err.Error(), "ssh: handshake failed: ssh: host key mismatch") ||
		!strings.Contains(err.Error(), "after 2 attempt(s)") {
		t.Fatalf("a wrong host key must fail with x/crypto's mismatch error, after dialErrorLimit attempts: %v", err)
	}
	// Not a key: fails at once, without dialing.
	start := time.Now()
	err = run("garbage", map[string]any{"hostKey": "not a key", "dialErrorLimit": 5})
	if err == nil || !strings.Contains(err.Error(), "failed to parse host key") || time.Since(start) > 900*time.Millisecond {
		t.Fatalf("an unparsable host key must fail at once (%s): %v", time.Since(start), err)
	}
}

// An RSA host key is offered as "ssh-rsa" only (SHA-1), as by the official
// provider: OpenSSH 8.8 and later refuse that, so pinning an RSA key fails.
func TestRemoteCommandRSAHostKeyIsOfferedAsSSHRSA(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sshd := startSSHDWithHostKey(t, priv)
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	r := newResource(t, server(t), remoteType, "rsa")
	err = r.create(map[string]any{"connection": sshd.connection(map[string]any{"hostKey": rsaKey, "dialErrorLimit": 1}), "create": "true"})
	if err == nil || !strings.Contains(err.Error(), "no common algorithm for host key") || !strings.Contains(err.Error(), "[ssh-rsa]") {
		t.Fatalf("an RSA host key must be offered as ssh-rsa alone: %v", err)
	}
	// Without hostKey the same server is reached (rsa-sha2-* negotiated).
	r = newResource(t, server(t), remoteType, "rsa-unpinned")
	if err := r.create(map[string]any{"connection": sshd.connection(nil), "create": "true"}); err != nil {
		t.Fatalf("unpinned: %v", err)
	}
}
