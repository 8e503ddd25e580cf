package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
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
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	ids := &idResolver{ctx: ctx, id: id}
	for _, u := range uploads {
		data, err := uploadContent(u)
		if err != nil {
			return fmt.Errorf("upload %s: %w", u.File, err)
		}
		mode := int64(0o644)
		if deref(u.Executable) {
			mode = 0o744
		}
		if u.Permissions != nil {
			m, err := strconv.ParseInt(*u.Permissions, 8, 32)
			if err != nil {
				return fmt.Errorf("upload %s: permissions %q: %w", u.File, *u.Permissions, err)
			}
			mode = m
		}
		uid, err := ids.resolve(deref(u.Owner), "/etc/passwd", lookupUser)
		if err != nil {
			return fmt.Errorf("upload %s: owner: %w", u.File, err)
		}
		gid, err := ids.resolve(deref(u.Group), "/etc/group", lookupGroup)
		if err != nil {
			return fmt.Errorf("upload %s: group: %w", u.File, err)
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
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	cl, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	defer cancel()
	// Missing parent directories are created by the daemon (mode 0755).
	if err := cl.CopyToContainer(cctx, id, "/", &buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("uploading files into the container: %w", err)
	}
	return nil
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

// idResolver turns upload owners/groups into numeric IDs. A number is used
// as is; a name is looked up in the container's own /etc/passwd or
// /etc/group first (where the file lives), then on the provider's host (what
// the official provider documents). "" is root.
type idResolver struct {
	ctx   context.Context
	id    string
	files map[string]string // container file -> content ("" if unreadable)
}

func (r *idResolver) resolve(s, dbFile string, hostLookup func(string) (string, error)) (int, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	if r.files == nil {
		r.files = map[string]string{}
	}
	db, ok := r.files[dbFile]
	if !ok {
		db, _ = readContainerFile(r.ctx, r.id, dbFile)
		r.files[dbFile] = db
	}
	for _, line := range strings.Split(db, "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == s {
			return strconv.Atoi(f[2])
		}
	}
	id, err := hostLookup(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither in the container's %s nor on the host: %w", s, dbFile, err)
	}
	return strconv.Atoi(id)
}

// readContainerFile reads one small file from a (possibly not started)
// container.
func readContainerFile(ctx context.Context, id, file string) (string, error) {
	cl, err := dockerClient(ctx)
	if err != nil {
		return "", err
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	defer cancel()
	rc, _, err := cl.CopyFromContainer(cctx, id, file)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(tr, 4<<20))
	return string(b), err
}

func lookupUser(name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", err
	}
	return u.Uid, nil
}

func lookupGroup(name string) (string, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return "", err
	}
	return g.Gid, nil
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
