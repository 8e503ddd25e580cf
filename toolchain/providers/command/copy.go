package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi-go-provider/infer/types"
)

// CopyToRemote is command:remote:CopyToRemote. It copies over SFTP.
//
// It has no Update: every input change replaces it (re-copies); triggers
// is also marked replaceOnChanges as in the official schema. Delete leaves
// the remote files in place: the official documentation says nothing about
// removing them and the official provider does not.
type CopyToRemote struct{}

// CopyToRemoteArgs are the inputs of a remote.CopyToRemote.
type CopyToRemoteArgs struct {
	Connection Connection           `pulumi:"connection"`
	Source     types.AssetOrArchive `pulumi:"source"`
	RemotePath string               `pulumi:"remotePath"`
	Triggers   []any                `pulumi:"triggers,optional" provider:"replaceOnChanges"`
}

// CopyToRemoteState is the recorded state of a remote.CopyToRemote.
type CopyToRemoteState struct {
	CopyToRemoteArgs
}

func (r *CopyToRemote) Annotate(a infer.Annotator) {
	a.SetToken("remote", "CopyToRemote")
	a.Describe(r, "Copy an Asset or Archive to a remote host. Supported sources: FileAsset, StringAsset, "+
		"FileArchive (a directory, copied recursively, or an archive file, copied as-is).")
}

func (c *CopyToRemoteArgs) Annotate(a infer.Annotator) {
	a.Describe(&c.Connection, "The parameters with which to connect to the remote host.")
	a.Describe(&c.Source, "An asset or an archive to upload as the source of the copy. It must be a "+
		"`FileAsset`, `StringAsset`, or a `FileArchive`. The item will be copied as-is; archives like .tgz "+
		"will not be unpacked. Directories are copied recursively, overwriting existing files.")
	a.Describe(&c.RemotePath, "The destination path on the remote host. Any necessary parent directories "+
		"will be created automatically. When the remote path is an existing directory, the source file or "+
		"directory will be copied into that directory.")
	a.Describe(&c.Triggers, "Trigger replacements on changes to this input.")
}

func (*CopyToRemote) WireDependencies(f infer.FieldSelector, _ *CopyToRemoteArgs, state *CopyToRemoteState) {
	f.OutputField(&state.Connection).AlwaysSecret()
}

// Check rejects source kinds this provider cannot copy (remote URIs and
// in-memory asset archives) before anything runs.
func (*CopyToRemote) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[CopyToRemoteArgs], error) {
	args, failures, err := infer.DefaultCheck[CopyToRemoteArgs](ctx, req.NewInputs)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[CopyToRemoteArgs]{Inputs: args, Failures: failures}, err
	}
	if src, ok := req.NewInputs.GetOk("source"); ok && !src.HasComputed() {
		if reason := unsupportedSource(args.Source); reason != "" {
			failures = append(failures, p.CheckFailure{Property: "source", Reason: reason})
		}
	}
	return infer.CheckResponse[CopyToRemoteArgs]{Inputs: args, Failures: failures}, nil
}

func unsupportedSource(s types.AssetOrArchive) string {
	switch {
	case s.Asset != nil && (s.Asset.IsPath() || s.Asset.IsText()):
		return ""
	case s.Archive != nil && s.Archive.IsPath():
		return ""
	}
	return "source must be a FileAsset, a StringAsset or a FileArchive"
}

// Diff: any change replaces. (infer's default diff would too, but it
// compares the always-secret connection in state against the plain input
// when the engine does not send old inputs, and reports a spurious change.)
func (*CopyToRemote) Diff(_ context.Context, req infer.DiffRequest[CopyToRemoteArgs, CopyToRemoteState]) (
	infer.DiffResponse, error,
) {
	return diffArgs(req.State.CopyToRemoteArgs, req.Inputs, "*"), nil
}

func (*CopyToRemote) Create(ctx context.Context, req infer.CreateRequest[CopyToRemoteArgs]) (
	infer.CreateResponse[CopyToRemoteState], error,
) {
	state := CopyToRemoteState{req.Inputs}
	if req.DryRun {
		return infer.CreateResponse[CopyToRemoteState]{Output: state}, nil
	}
	if reason := unsupportedSource(req.Inputs.Source); reason != "" {
		return infer.CreateResponse[CopyToRemoteState]{}, errors.New(reason)
	}
	id, err := uniqueID(req.Name)
	if err != nil {
		return infer.CreateResponse[CopyToRemoteState]{}, err
	}
	client, err := req.Inputs.Connection.dial(ctx)
	if err != nil {
		return infer.CreateResponse[CopyToRemoteState]{}, err
	}
	defer client.Close()
	sc, err := sftp.NewClient(client.Client)
	if err != nil {
		return infer.CreateResponse[CopyToRemoteState]{}, fmt.Errorf("starting SFTP: %w", err)
	}
	defer sc.Close()
	stop := context.AfterFunc(ctx, func() { sc.Close() })
	defer stop()

	if err := copySource(sc, req.Inputs.Source, req.Inputs.RemotePath); err != nil {
		return infer.CreateResponse[CopyToRemoteState]{}, err
	}
	return infer.CreateResponse[CopyToRemoteState]{ID: id, Output: state}, nil
}

// copySource copies src to remote following scp's rules: into remote if it
// is an existing directory, else to remote itself (parents created).
func copySource(sc *sftp.Client, src types.AssetOrArchive, remote string) error {
	remoteInfo, statErr := sc.Stat(remote)
	isDir := statErr == nil && remoteInfo.IsDir()

	switch {
	case src.Asset != nil && src.Asset.IsText():
		if isDir {
			return fmt.Errorf("remotePath %s is a directory; a StringAsset needs a file path", remote)
		}
		if err := sc.MkdirAll(path.Dir(remote)); err != nil {
			return fmt.Errorf("creating %s: %w", path.Dir(remote), err)
		}
		return writeRemote(sc, strings.NewReader(src.Asset.Text), remote, 0o644)

	case src.Asset != nil && src.Asset.IsPath():
		return copyPath(sc, src.Asset.Path, remote, isDir, statErr == nil)

	case src.Archive != nil && src.Archive.IsPath():
		return copyPath(sc, src.Archive.Path, remote, isDir, statErr == nil)
	}
	return errors.New("source must be a FileAsset, a StringAsset or a FileArchive")
}

// copyPath copies a local file or directory tree.
func copyPath(sc *sftp.Client, local, remote string, remoteIsDir, remoteExists bool) error {
	info, err := os.Stat(local)
	if err != nil {
		return fmt.Errorf("reading source: %w", err)
	}
	if remoteIsDir {
		remote = path.Join(remote, filepath.Base(local))
	}
	if !info.IsDir() {
		if !remoteIsDir {
			if err := sc.MkdirAll(path.Dir(remote)); err != nil {
				return fmt.Errorf("creating %s: %w", path.Dir(remote), err)
			}
		}
		return copyFile(sc, local, remote, info.Mode().Perm())
	}
	if remoteExists && !remoteIsDir {
		return fmt.Errorf("cannot copy directory %s: remote path %s is an existing file", local, remote)
	}
	return filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(local, p)
		if err != nil {
			return err
		}
		dst := path.Join(remote, filepath.ToSlash(rel))
		info, err := os.Stat(p) // follows symlinks to files
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := sc.MkdirAll(dst); err != nil {
				return fmt.Errorf("creating %s: %w", dst, err)
			}
			return sc.Chmod(dst, info.Mode().Perm())
		case info.Mode().IsRegular():
			return copyFile(sc, p, dst, info.Mode().Perm())
		}
		return nil // symlinks to directories, sockets, devices: skipped
	})
}

func copyFile(sc *sftp.Client, local, remote string, mode fs.FileMode) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeRemote(sc, f, remote, mode)
}

// writeRemote writes r to the remote file and sets its permission bits.
func writeRemote(sc *sftp.Client, r io.Reader, remote string, mode fs.FileMode) error {
	f, err := sc.OpenFile(remote, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("opening remote %s: %w", remote, err)
	}
	if _, err := f.ReadFrom(r); err != nil {
		f.Close()
		return fmt.Errorf("writing remote %s: %w", remote, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing remote %s: %w", remote, err)
	}
	if err := sc.Chmod(remote, mode); err != nil {
		return fmt.Errorf("chmod remote %s: %w", remote, err)
	}
	return nil
}
