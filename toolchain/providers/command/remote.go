package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"golang.org/x/crypto/ssh"
)

// RemoteCommand is command:remote:Command. Diff and update semantics are
// those of LocalCommand: any input change that does not replace, the
// connection's credentials and dial settings included, runs `update` (or
// `create`) again over the new connection.
type RemoteCommand struct{}

// RemoteArgs are the inputs of a remote.Command.
type RemoteArgs struct {
	CommonArgs
	Connection Connection     `pulumi:"connection" provider:"secret"`
	Logging    *RemoteLogging `pulumi:"logging,optional"`
}

// RemoteState is the recorded state of a remote.Command.
type RemoteState struct {
	RemoteArgs
	CommonOutputs
}

func (r *RemoteCommand) Annotate(a infer.Annotator) {
	a.SetToken("remote", "Command")
	a.Describe(r, "A command to run on a remote host over SSH. A command is considered to have failed "+
		"when it finished with a non-zero exit code.")
}

func (r *RemoteArgs) Annotate(a infer.Annotator) {
	a.Describe(&r.Connection, "The parameters with which to connect to the remote host.")
	a.Describe(&r.Environment, "Additional environment variables available to the command's process. "+
		"Note that this only works if the SSH server is configured to accept these variables via AcceptEnv.")
	a.Describe(&r.Logging, "If the command's stdout and stderr should be logged. Defaults to both.")
}

// WireDependencies: the connection is always secret, as an input (the
// official plugin tags it secret, and the npm SDK sends it as a secret) and
// in state (the SDK also lists it in additionalSecretOutputs). stdout/stderr
// are secret when what the command sees is secret (not the connection), and
// in a preview unknown whenever an input that had a value changed, as with
// LocalCommand.
func (*RemoteCommand) WireDependencies(f infer.FieldSelector, args *RemoteArgs, state *RemoteState) {
	f.OutputField(&state.Connection).AlwaysSecret()
	seen := []infer.InputField{
		f.InputField(&args.Create).Secret(), f.InputField(&args.Update).Secret(),
		f.InputField(&args.Environment).Secret(), f.InputField(&args.Stdin).Secret(),
		f.InputField(args).Computed(),
	}
	f.OutputField(&state.Stdout).DependsOn(seen...)
	f.OutputField(&state.Stderr).DependsOn(seen...)
}

// Check applies defaults and validates logging.
func (*RemoteCommand) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[RemoteArgs], error) {
	args, failures, err := infer.DefaultCheck[RemoteArgs](ctx, req.NewInputs)
	if err == nil && len(failures) == 0 {
		failures = checkLogging(args.Logging)
	}
	return infer.CheckResponse[RemoteArgs]{Inputs: args, Failures: failures}, err
}

func (*RemoteCommand) Create(ctx context.Context, req infer.CreateRequest[RemoteArgs]) (
	infer.CreateResponse[RemoteState], error,
) {
	state := RemoteState{RemoteArgs: req.Inputs}
	if req.DryRun {
		return infer.CreateResponse[RemoteState]{Output: state}, nil
	}
	id, err := uniqueID(req.Name)
	if err != nil {
		return infer.CreateResponse[RemoteState]{}, err
	}
	if req.Inputs.Create != nil {
		state.Stdout, state.Stderr, err = req.Inputs.run(ctx, "create", *req.Inputs.Create, nil)
		if err != nil {
			return infer.CreateResponse[RemoteState]{}, err
		}
	}
	return infer.CreateResponse[RemoteState]{ID: id, Output: state}, nil
}

func (*RemoteCommand) Update(ctx context.Context, req infer.UpdateRequest[RemoteArgs, RemoteState]) (
	infer.UpdateResponse[RemoteState], error,
) {
	state := RemoteState{RemoteArgs: req.Inputs, CommonOutputs: req.State.CommonOutputs}
	if req.DryRun {
		return infer.UpdateResponse[RemoteState]{Output: state}, nil
	}
	if cmd := req.Inputs.updateCommand(); cmd != nil {
		env := req.Inputs.previousOutputEnv(req.State.Stdout, req.State.Stderr)
		var err error
		state.Stdout, state.Stderr, err = req.Inputs.run(ctx, "update", *cmd, env)
		if err != nil {
			return infer.UpdateResponse[RemoteState]{}, err
		}
	}
	return infer.UpdateResponse[RemoteState]{Output: state}, nil
}

func (*RemoteCommand) Delete(ctx context.Context, req infer.DeleteRequest[RemoteState]) (infer.DeleteResponse, error) {
	s := req.State
	if s.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	_, _, err := s.run(ctx, "delete", *s.Delete, s.previousOutputEnv(s.Stdout, s.Stderr))
	return infer.DeleteResponse{}, err
}

// setenvRefused is the official plugin's message (1.2.1,
// provider/pkg/provider/remote/commandOutputs.go) for a variable the SSH
// server refuses: sshd accepts only the names its AcceptEnv lists.
func setenvRefused(key string) string {
	return fmt.Sprintf("Unable to set '%s'. This only works if your SSH server is configured to accept "+
		"these variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote "+
		"host, you could prefix the command itself with the variables in the form 'VAR=value command'", key)
}

// run executes command on the remote host and returns its trimmed stdout and
// stderr. As the official plugin does, each variable of `environment` goes
// by the SSH "env" request and one the server refuses fails the command;
// the previous outputs (extraEnv: PULUMI_COMMAND_STDOUT/STDERR) are offered
// when not empty and, if refused, left out with a warning.
func (r RemoteArgs) run(ctx context.Context, what, command string, extraEnv map[string]string) (
	string, string, error,
) {
	client, err := r.Connection.dial(ctx)
	if err != nil {
		return "", "", err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return "", "", fmt.Errorf("opening SSH session: %w", err)
	}
	defer session.Close()

	logger := p.GetLogger(ctx)
	for _, k := range slices.Sorted(maps.Keys(r.Environment)) {
		if err := session.Setenv(k, r.Environment[k]); err != nil {
			logger.Error(setenvRefused(k))
			return "", "", fmt.Errorf("could not set environment variable %q: %w", k, err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(extraEnv)) {
		if extraEnv[k] == "" {
			continue
		}
		if err := session.Setenv(k, extraEnv[k]); err != nil {
			logger.Warning(setenvRefused(k))
		}
	}

	if r.Stdin != nil {
		session.Stdin = strings.NewReader(*r.Stdin)
	}
	logOut, logErr := logStreams(r.Logging)
	stdout, stderr := newCapture(ctx, logOut), newCapture(ctx, logErr)
	session.Stdout, session.Stderr = stdout, stderr

	// On cancellation, ask the remote side to stop and drop the connection.
	stop := context.AfterFunc(ctx, func() {
		_ = session.Signal(ssh.SIGTERM)
		client.Close()
	})
	defer stop()

	err = session.Run(command)
	out, errOut := trimOutput(stdout.String()), trimOutput(stderr.String())
	if err != nil {
		var exitErr *ssh.ExitError
		if !errors.As(err, &exitErr) && ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return out, errOut, commandError(what, command, err, out, errOut)
	}
	return out, errOut, nil
}
