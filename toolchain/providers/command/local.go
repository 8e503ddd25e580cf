package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi-go-provider/infer"
)

// LocalCommand is command:local:Command.
//
// Diff is infer's default, as in the official plugin (see diff.go); a change
// of triggers replaces it, any other input change is an update. Update runs
// `update` (or `create` if `update` is unset) with the new inputs on every
// update, whichever input changed.
type LocalCommand struct{}

// LocalArgs are the inputs of a local.Command.
type LocalArgs struct {
	CommonArgs
	Dir         *string       `pulumi:"dir,optional"`
	Interpreter []string      `pulumi:"interpreter,optional"`
	Logging     *LocalLogging `pulumi:"logging,optional"`
}

// LocalState is the recorded state of a local.Command.
type LocalState struct {
	LocalArgs
	CommonOutputs
}

func (r *LocalCommand) Annotate(a infer.Annotator) {
	a.SetToken("local", "Command")
	a.Describe(r, "A local command to be executed. A command is considered to have failed when it "+
		"finished with a non-zero exit code. This will fail the CRUD step of the `Command` resource.")
}

func (l *LocalArgs) Annotate(a infer.Annotator) {
	a.Describe(&l.Dir, "The directory from which to run the command from. If `dir` does not exist, "+
		"then `Command` will fail.")
	a.Describe(&l.Interpreter, "The program and arguments to run the command. "+
		"Defaults to: `[\"/bin/sh\", \"-c\"]`.")
	a.Describe(&l.Logging, "If the command's stdout and stderr should be logged. This doesn't affect "+
		"the capturing of stdout and stderr as outputs. Defaults to logging both stdout and stderr.")
}

// WireDependencies: stdout/stderr are secret whenever something the command
// sees is secret. In a preview they are unknown whenever an input that had a
// value changed (every update runs a command), as with the official plugin,
// which keeps infer's default flow: every output depends on every input.
func (*LocalCommand) WireDependencies(f infer.FieldSelector, args *LocalArgs, state *LocalState) {
	seen := []infer.InputField{
		f.InputField(&args.Create).Secret(), f.InputField(&args.Update).Secret(),
		f.InputField(&args.Environment).Secret(), f.InputField(&args.Stdin).Secret(),
		f.InputField(&args.Dir).Secret(), f.InputField(&args.Interpreter).Secret(),
		f.InputField(args).Computed(),
	}
	f.OutputField(&state.Stdout).DependsOn(seen...)
	f.OutputField(&state.Stderr).DependsOn(seen...)
}

// Check applies defaults and validates logging.
func (*LocalCommand) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[LocalArgs], error) {
	args, failures, err := infer.DefaultCheck[LocalArgs](ctx, req.NewInputs)
	if err == nil && len(failures) == 0 {
		failures = checkLogging(args.Logging)
	}
	return infer.CheckResponse[LocalArgs]{Inputs: args, Failures: failures}, err
}

func (*LocalCommand) Create(ctx context.Context, req infer.CreateRequest[LocalArgs]) (
	infer.CreateResponse[LocalState], error,
) {
	state := LocalState{LocalArgs: req.Inputs}
	if req.DryRun {
		return infer.CreateResponse[LocalState]{Output: state}, nil
	}
	id, err := uniqueID(req.Name)
	if err != nil {
		return infer.CreateResponse[LocalState]{}, err
	}
	if req.Inputs.Create != nil {
		state.Stdout, state.Stderr, err = req.Inputs.run(ctx, "create", *req.Inputs.Create, nil)
		if err != nil {
			return infer.CreateResponse[LocalState]{}, err
		}
	}
	return infer.CreateResponse[LocalState]{ID: id, Output: state}, nil
}

func (*LocalCommand) Update(ctx context.Context, req infer.UpdateRequest[LocalArgs, LocalState]) (
	infer.UpdateResponse[LocalState], error,
) {
	state := LocalState{LocalArgs: req.Inputs, CommonOutputs: req.State.CommonOutputs}
	if req.DryRun {
		return infer.UpdateResponse[LocalState]{Output: state}, nil
	}
	if cmd := req.Inputs.updateCommand(); cmd != nil {
		env := req.Inputs.previousOutputEnv(req.State.Stdout, req.State.Stderr)
		var err error
		state.Stdout, state.Stderr, err = req.Inputs.run(ctx, "update", *cmd, env)
		if err != nil {
			return infer.UpdateResponse[LocalState]{}, err
		}
	}
	return infer.UpdateResponse[LocalState]{Output: state}, nil
}

func (*LocalCommand) Delete(ctx context.Context, req infer.DeleteRequest[LocalState]) (infer.DeleteResponse, error) {
	s := req.State
	if s.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	_, _, err := s.run(ctx, "delete", *s.Delete, s.previousOutputEnv(s.Stdout, s.Stderr))
	return infer.DeleteResponse{}, err
}

// run executes command through the interpreter and returns its trimmed
// stdout and stderr. A non-zero exit is an error carrying stderr.
func (l LocalArgs) run(ctx context.Context, what, command string, extraEnv map[string]string) (
	string, string, error,
) {
	interp := l.Interpreter
	if len(interp) == 0 {
		interp = []string{"/bin/sh", "-c"}
	}
	cmd := exec.CommandContext(ctx, interp[0], append(slices.Clone(interp[1:]), command)...)
	if l.Dir != nil {
		cmd.Dir = *l.Dir
	}
	cmd.Env = os.Environ()
	for k, v := range mergeEnv(l.Environment, extraEnv) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if l.Stdin != nil {
		cmd.Stdin = strings.NewReader(*l.Stdin)
	}
	logOut, logErr := logStreams(l.Logging)
	stdout, stderr := newCapture(ctx, logOut), newCapture(ctx, logErr)
	cmd.Stdout, cmd.Stderr = stdout, stderr

	// Run in its own process group so cancellation also stops children
	// (e.g. the sleep in `sh -c "sleep 100"`), and don't wait forever for
	// grandchildren that keep the output pipes open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second

	err := cmd.Run()
	out, errOut := trimOutput(stdout.String()), trimOutput(stderr.String())
	if err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) && ctx.Err() == nil {
			err = fmt.Errorf("starting %v: %w", interp, err)
		}
		return out, errOut, commandError(what, command, err, out, errOut)
	}
	return out, errOut, nil
}
