package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// uploadFiles copies the `uploads` into the (created, not yet started)
// container through the archive API, with their modes and owners. Contents
// are never logged: they may be secrets.
func uploadFiles(ctx context.Context, id string, uploads []ContainerUpload) error {
	if len(uploads) == 0 {
		return nil
	}
	buf, err := uploadArchive(uploads, time.Now())
	if err != nil {
		return err
	}
	cl, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	defer cancel()
	// Missing parent directories are created by the daemon (mode 0755).
	if err := cl.CopyToContainer(cctx, id, "/", buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("uploading files into the container: %w", err)
	}
	return nil
}

// uploadArchive builds the tar stream of the uploads: one regular file each,
// with its mode (`permissions`, else 0744 if `executable`, else 0644) and
// its owner and group as numeric IDs (see hostID).
func uploadArchive(uploads []ContainerUpload, now time.Time) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, u := range uploads {
		data, err := uploadContent(u)
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", u.File, err)
		}
		mode := int64(0o644)
		if deref(u.Executable) {
			mode = 0o744
		}
		if u.Permissions != nil {
			m, err := strconv.ParseInt(*u.Permissions, 8, 32)
			if err != nil {
				return nil, fmt.Errorf("upload %s: permissions %q: %w", u.File, *u.Permissions, err)
			}
			mode = m
		}
		uid, err := hostID("owner", deref(u.Owner), lookupHostUser)
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", u.File, err)
		}
		gid, err := hostID("group", deref(u.Group), lookupHostGroup)
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", u.File, err)
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     strings.TrimPrefix(path.Clean(u.File), "/"),
			Mode:     mode,
			Size:     int64(len(data)),
			Uid:      uid,
			Gid:      gid,
			ModTime:  now,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

func uploadContent(u ContainerUpload) ([]byte, error) {
	switch {
	case u.Content != nil:
		return []byte(*u.Content), nil
	case u.ContentBase64 != nil:
		return base64.StdEncoding.DecodeString(*u.ContentBase64)
	case u.Source != nil:
		return os.ReadFile(*u.Source)
	}
	return nil, fmt.Errorf("one of content, contentBase64 or source must be set")
}

// hostID turns an upload's owner or group (kind) into a numeric ID, as the
// official provider documents: "Names are resolved using the Terraform
// host's user database; numeric IDs can be used directly." The host is the
// machine this plugin runs on (the deployer's), not the container: a name
// that exists only in the image's /etc/passwd or /etc/group is an error, and
// a host name whose ID differs in the container gives the host's ID. ""
// is root (0).
func hostID(kind, s string, lookup func(string) (string, error)) (int, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(s, 10, 31); err == nil {
		return int(n), nil
	}
	id, err := lookup(s)
	if err != nil {
		var unknownUser user.UnknownUserError
		var unknownGroup user.UnknownGroupError
		if errors.As(err, &unknownUser) || errors.As(err, &unknownGroup) {
			return 0, fmt.Errorf("%s %q does not exist on this host (%s): names are resolved in the "+
				"user database of the machine running Pulumi, as in the official provider; use a "+
				"numeric ID for an account that exists only in the container", kind, s, hostname())
		}
		return 0, fmt.Errorf("%s %q: looking it up on this host: %w", kind, s, err)
	}
	n, err := strconv.Atoi(id)
	if err != nil {
		return 0, fmt.Errorf("%s %q: the host's ID %q is not numeric", kind, s, id)
	}
	return n, nil
}

// The host's user and group databases; tests replace them.
var (
	lookupHostUser = func(name string) (string, error) {
		u, err := user.Lookup(name)
		if err != nil {
			return "", err
		}
		return u.Uid, nil
	}
	lookupHostGroup = func(name string) (string, error) {
		g, err := user.LookupGroup(name)
		if err != nil {
			return "", err
		}
		return g.Gid, nil
	}
)

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown host name"
	}
	return h
}

// containerLogs returns stdout and stderr of the container (the last `tail`
// lines, or all when tail is 0).
func containerLogs(ctx context.Context, id string, tail int) (string, error) {
	cl, err := dockerClient(ctx)
	if err != nil {
		return "", err
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	defer cancel()
	c, err := cl.ContainerInspect(cctx, id)
	if err != nil {
		return "", err
	}
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true}
	if tail > 0 {
		opts.Tail = strconv.Itoa(tail)
	}
	rc, err := cl.ContainerLogs(cctx, id, opts)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var out bytes.Buffer
	if c.Config != nil && c.Config.Tty {
		_, err = out.ReadFrom(rc)
	} else {
		_, err = stdcopy.StdCopy(&out, &out, rc)
	}
	return out.String(), err
}

// logTail formats the last lines of the container's logs for an error.
func logTail(ctx context.Context, id string, n int) string {
	logs, err := containerLogs(ctx, id, n)
	logs = strings.TrimRight(logs, "\n")
	if err != nil || logs == "" {
		return ""
	}
	return "\n--- last container log lines ---\n" + logs
}
