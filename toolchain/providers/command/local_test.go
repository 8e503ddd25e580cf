package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLocalLifecycle(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	r := newResource(t, server(t), localType, "cmd")
	base := map[string]any{
		"create":      `echo "create $GREETING from $(pwd)" | tee -a log; echo warn >&2; cat`,
		"update":      `echo "update prev=[$PULUMI_COMMAND_STDOUT] err=[$PULUMI_COMMAND_STDERR]" | tee -a log`,
		"delete":      `echo "delete prev=[$PULUMI_COMMAND_STDOUT]" >> log`,
		"dir":         dir,
		"environment": map[string]string{"GREETING": "hello"},
		"stdin":       "from-stdin\n",
	}
	r.mustCreate(base)
	if want := "create hello from " + dir + "\nfrom-stdin"; r.str("stdout") != want {
		t.Fatalf("stdout = %q, want %q", r.str("stdout"), want)
	}
	if r.str("stderr") != "warn" {
		t.Fatalf("stderr = %q (trailing newline must be trimmed)", r.str("stderr"))
	}
	if !strings.HasPrefix(r.id, "cmd") || len(r.id) != len("cmd")+8 {
		t.Fatalf("unexpected ID %q", r.id)
	}

	// No change: no diff.
	if d, _ := r.diff(base); d.HasChanges {
		t.Fatalf("unexpected diff: %+v", d)
	}

	// Like the official plugin, every change that does not replace runs
	// `update` with the new inputs and the previous outputs, whichever input
	// changed: here the delete command only, then logging only, then
	// addPreviousOutputInEnv only, then the environment. Diff reports each as
	// the official (infer default) diff does: one entry per changed path.
	created := "create hello from " + dir + "\nfrom-stdin"
	base["delete"] = `echo "delete prev=[$PULUMI_COMMAND_STDOUT] err=[$PULUMI_COMMAND_STDERR]" >> log`
	d, _ := r.diff(base)
	wantDiff(t, d, map[string]p.DiffKind{"delete": p.Update})
	if err := r.update(base); err != nil {
		t.Fatal(err)
	}
	afterDelete := "update prev=[" + created + "] err=[warn]"
	if r.str("stdout") != afterDelete || r.str("stderr") != "" {
		t.Fatalf("delete-only change: stdout=%q stderr=%q, want %q", r.str("stdout"), r.str("stderr"), afterDelete)
	}

	base["logging"] = "none"
	d, _ = r.diff(base)
	wantDiff(t, d, map[string]p.DiffKind{"logging": p.Add})
	if err := r.update(base); err != nil {
		t.Fatal(err)
	}
	afterLogging := "update prev=[" + afterDelete + "] err=[]"
	if r.str("stdout") != afterLogging {
		t.Fatalf("logging-only change: stdout=%q, want %q", r.str("stdout"), afterLogging)
	}

	base["addPreviousOutputInEnv"] = false
	d, _ = r.diff(base)
	wantDiff(t, d, map[string]p.DiffKind{"addPreviousOutputInEnv": p.Add})
	if err := r.update(base); err != nil {
		t.Fatal(err)
	}
	if r.str("stdout") != "update prev=[] err=[]" {
		t.Fatalf("addPreviousOutputInEnv-only change: stdout=%q", r.str("stdout"))
	}
	base["addPreviousOutputInEnv"] = true
	d, _ = r.diff(base)
	wantDiff(t, d, map[string]p.DiffKind{"addPreviousOutputInEnv": p.Update})
	if err := r.update(base); err != nil {
		t.Fatal(err)
	}
	afterPrevOn := "update prev=[update prev=[] err=[]] err=[]"
	if r.str("stdout") != afterPrevOn {
		t.Fatalf("addPreviousOutputInEnv-only change: stdout=%q, want %q", r.str("stdout"), afterPrevOn)
	}

	base["environment"] = map[string]string{"GREETING": "bonjour"}
	d, _ = r.diff(base)
	wantDiff(t, d, map[string]p.DiffKind{"environment.GREETING": p.Update})
	if err := r.update(base); err != nil {
		t.Fatal(err)
	}
	want := "update prev=[" + afterPrevOn + "] err=[]"
	if r.str("stdout") != want {
		t.Fatalf("update stdout = %q, want %q", r.str("stdout"), want)
	}
	wantLog := "create hello from " + dir + "\n" + afterDelete + "\n" + afterLogging + "\n" +
		"update prev=[] err=[]\n" + afterPrevOn + "\n" + want + "\n"
	if got := readFile(t, log); got != wantLog {
		t.Fatalf("log = %q, want %q", got, wantLog)
	}

	// Delete gets the outputs of the last run.
	if err := r.delete(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(readFile(t, log), "delete prev=["+want+"] err=[]\n") {
		t.Fatalf("delete did not see previous output: %q", readFile(t, log))
	}
}

func TestLocalUpdateRunsCreateWithoutUpdate(t *testing.T) {
	r := newResource(t, server(t), localType, "nocreate")
	r.mustCreate(map[string]any{"create": "echo one"})
	if err := r.update(map[string]any{"create": `echo "two after $PULUMI_COMMAND_STDOUT"`}); err != nil {
		t.Fatal(err)
	}
	if r.str("stdout") != "two after one" {
		t.Fatalf("stdout = %q", r.str("stdout"))
	}
	// addPreviousOutputInEnv=false hides the previous output.
	if err := r.update(map[string]any{"create": `echo "three [$PULUMI_COMMAND_STDOUT]"`,
		"addPreviousOutputInEnv": false}); err != nil {
		t.Fatal(err)
	}
	if r.str("stdout") != "three []" {
		t.Fatalf("stdout = %q", r.str("stdout"))
	}
}

func TestLocalTriggersReplace(t *testing.T) {
	r := newResource(t, server(t), localType, "trig")
	in := map[string]any{"create": "true", "update": "true", "triggers": []any{"a", 1}}
	r.mustCreate(in)
	if d, _ := r.diff(in); d.HasChanges {
		t.Fatalf("unexpected diff: %+v", d)
	}
	// The paths are the official diff's; the replacing kinds are what the
	// engine makes of them with the SDK's replaceOnChanges ["triggers[*]"].
	in["triggers"] = []any{"b", 1}
	d, _ := r.diff(in)
	wantDiff(t, d, map[string]p.DiffKind{"triggers[0]": p.UpdateReplace})
	in["triggers"] = []any{"b", 1, map[string]any{"k": "v"}}
	d, _ = r.diff(in)
	wantDiff(t, d, map[string]p.DiffKind{"triggers[0]": p.UpdateReplace, "triggers[2]": p.AddReplace})
	d, _ = r.diff(map[string]any{"create": "true", "update": "true"})
	wantDiff(t, d, map[string]p.DiffKind{"triggers": p.DeleteReplace})

	// Assets as triggers: a content change replaces.
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = newResource(t, server(t), localType, "assettrig")
	in = map[string]any{"create": "true", "triggers": []any{fileAsset(t, file)}}
	r.mustCreate(in)
	if d, _ := r.diff(in); d.HasChanges {
		t.Fatalf("unexpected diff: %+v", d)
	}
	if err := os.WriteFile(file, []byte("v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d, _ := r.diff(map[string]any{"create": "true", "triggers": []any{fileAsset(t, file)}}); !replaces(d) {
		t.Fatalf("changed asset trigger must replace: %+v", d)
	}
}

func TestLocalFailureSurfacesStderr(t *testing.T) {
	r := newResource(t, server(t), localType, "fail")
	err := r.create(map[string]any{"create": "echo partial; echo 'database is on fire' >&2; exit 3"})
	if err == nil {
		t.Fatal("expected failure")
	}
	for _, want := range []string{"database is on fire", "exit status 3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// A failing delete fails the delete.
	r = newResource(t, server(t), localType, "faildelete")
	r.mustCreate(map[string]any{"create": "true", "delete": "echo nope >&2; false"})
	if err := r.delete(); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("delete error = %v", err)
	}
	// A missing dir fails.
	r = newResource(t, server(t), localType, "nodir")
	if err := r.create(map[string]any{"create": "true", "dir": "/nonexistent/dir"}); err == nil {
		t.Fatal("missing dir must fail")
	}
}

func TestLocalInterpreterAndLogging(t *testing.T) {
	r := newResource(t, server(t), localType, "interp")
	r.mustCreate(map[string]any{
		"create":      `print "sh-free"`,
		"interpreter": []string{"/usr/bin/env", "perl", "-e"},
		"logging":     "none",
	})
	if r.str("stdout") != "sh-free" {
		t.Fatalf("interpreter not used: %q", r.str("stdout"))
	}
	for _, l := range []string{"stdout", "stderr", "stdoutAndStderr", "none"} {
		r := newResource(t, server(t), localType, "log"+l)
		r.mustCreate(map[string]any{"create": "echo out; echo err >&2", "logging": l})
		if r.str("stdout") != "out" || r.str("stderr") != "err" {
			t.Fatalf("logging=%s changed captured output: %v", l, r.state)
		}
	}
	s := server(t)
	resp, err := s.Check(p.CheckRequest{Urn: urn(localType, "badlog"),
		Inputs: props(map[string]any{"create": "true", "logging": "loud"})})
	if err != nil || len(resp.Failures) == 0 {
		t.Fatalf("invalid logging value must fail check: %v %+v", err, resp.Failures)
	}
}

func TestLocalPreviewRunsNothing(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	s := server(t)
	u := urn(localType, "preview")
	in := props(map[string]any{"create": "touch " + marker, "dir": dir})
	checked, err := s.Check(p.CheckRequest{Urn: u, Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Create(p.CreateRequest{Urn: u, Properties: checked.Inputs, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Properties.Get("stdout").IsComputed() {
		t.Errorf("preview stdout should be unknown: %v", resp.Properties)
	}
	// Unknown inputs are fine in preview too.
	unknown := in.Set("create", property.New(property.Computed))
	checked, err = s.Check(p.CheckRequest{Urn: u, Inputs: unknown})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(p.CreateRequest{Urn: u, Properties: checked.Inputs, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	// Preview of an update runs nothing either.
	r := newResource(t, s, localType, "previewupdate")
	r.mustCreate(map[string]any{"create": "echo v1"})
	next := r.check(props(map[string]any{"create": "touch " + marker}))
	up, err := s.Update(p.UpdateRequest{ID: r.id, Urn: r.urn, State: r.state, OldInputs: r.inputs,
		Inputs: next, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !up.Properties.Get("stdout").IsComputed() {
		t.Errorf("preview update stdout should be unknown: %v", up.Properties)
	}
	// Any input change runs a command on update, so in its preview stdout and
	// stderr are unknown even when only the delete command changed (the
	// official plugin's default flow: every output depends on every input,
	// and one whose old value is in state and differs makes them unknown); the
	// inputs stay known.
	r = newResource(t, s, localType, "previewdelete")
	r.mustCreate(map[string]any{"create": "echo v1", "delete": "true"})
	next = r.check(props(map[string]any{"create": "echo v1", "delete": "touch " + marker}))
	up, err = s.Update(p.UpdateRequest{ID: r.id, Urn: r.urn, State: r.state, OldInputs: r.inputs,
		Inputs: next, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !up.Properties.Get("stdout").IsComputed() || !up.Properties.Get("stderr").IsComputed() {
		t.Errorf("preview of a delete-only update: stdout/stderr should be unknown: %v", up.Properties)
	}
	if up.Properties.Get("create").AsString() != "echo v1" || up.Properties.Get("delete").IsComputed() {
		t.Errorf("preview of an update: inputs should stay known: %v", up.Properties)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a command ran during preview")
	}
}

func TestLocalSecretsFlow(t *testing.T) {
	r := newResource(t, server(t), localType, "secret")
	r.mustCreate(map[string]any{
		"create":      `echo "$PW" | wc -c`,
		"environment": property.New(map[string]property.Value{"PW": property.New("hunter2").WithSecret(true)}),
	})
	if !r.state.Get("environment").HasSecrets() {
		t.Errorf("secret environment lost its secretness in state: %v", r.state)
	}
	if !r.state.Get("stdout").Secret() {
		t.Errorf("stdout of a command with a secret environment should be secret: %v", r.state)
	}
	r = newResource(t, server(t), localType, "public")
	r.mustCreate(map[string]any{"create": "echo hi"})
	if r.state.Get("stdout").Secret() {
		t.Errorf("stdout should not be secret: %v", r.state)
	}
}
