package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// buildSpec is a resolved Image build: absolute paths and the values that
// determine the result.
type buildSpec struct {
	contextDir string            // absolute build context directory
	dockerfile string            // absolute path of the Dockerfile
	inContext  string            // Dockerfile path relative to the context ("" if outside it)
	args       map[string]string // build args
	target     string
	platform   string
}

// resolveBuild applies the defaults (context ".", dockerfile
// "<context>/Dockerfile") and resolves paths. A relative dockerfile is taken
// relative to the working directory (the Pulumi program's directory), as the
// official provider does; when it does not exist there but does relative to
// the context, that one is used.
func resolveBuild(b *DockerBuild) (buildSpec, error) {
	var in DockerBuild
	if b != nil {
		in = *b
	}
	ctxDir, err := filepath.Abs(derefOr(in.Context, "."))
	if err != nil {
		return buildSpec{}, err
	}
	if st, err := os.Stat(ctxDir); err != nil || !st.IsDir() {
		return buildSpec{}, fmt.Errorf("build context %q is not a directory", derefOr(in.Context, "."))
	}
	df := deref(in.Dockerfile)
	var dfPath string
	switch {
	case df == "":
		df = "Dockerfile"
		dfPath = filepath.Join(ctxDir, df)
	case filepath.IsAbs(df):
		dfPath = df
	default:
		if dfPath, err = filepath.Abs(df); err != nil {
			return buildSpec{}, err
		}
		if _, err := os.Stat(dfPath); err != nil {
			if alt := filepath.Join(ctxDir, df); fileExists(alt) {
				dfPath = alt
			}
		}
	}
	if st, err := os.Stat(dfPath); err != nil || st.IsDir() {
		return buildSpec{}, fmt.Errorf("dockerfile %q not found (looked for %s)", df, dfPath)
	}
	spec := buildSpec{contextDir: ctxDir, dockerfile: dfPath, args: in.Args,
		target: deref(in.Target), platform: deref(in.Platform)}
	if rel, err := filepath.Rel(ctxDir, dfPath); err == nil && !strings.HasPrefix(rel, "..") {
		spec.inContext = filepath.ToSlash(rel)
	}
	return spec, nil
}

// contextEntry is one file, directory or symlink of the build context.
type contextEntry struct {
	rel  string // slash-separated path relative to the context
	abs  string
	info fs.FileInfo
	link string // symlink target
}

// contextEntries lists the context in a deterministic order, honouring
// .dockerignore the way `docker build` does. The Dockerfile and .dockerignore
// are always sent (the daemon needs them), as the docker CLI does.
func contextEntries(spec buildSpec) ([]contextEntry, error) {
	var pm *patternmatcher.PatternMatcher
	if f, err := os.Open(filepath.Join(spec.contextDir, ".dockerignore")); err == nil {
		patterns, rerr := ignorefile.ReadAll(f)
		f.Close()
		if rerr != nil {
			return nil, fmt.Errorf("reading .dockerignore: %w", rerr)
		}
		if pm, err = patternmatcher.New(patterns); err != nil {
			return nil, fmt.Errorf("parsing .dockerignore: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}

	var out []contextEntry
	err := filepath.WalkDir(spec.contextDir, func(abs string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(spec.contextDir, abs)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		always := rel == spec.inContext || rel == ".dockerignore"
		if pm != nil && !always {
			//nolint:staticcheck // same semantics as the classic docker CLI
			skip, err := pm.MatchesOrParentMatches(rel)
			if err != nil {
				return err
			}
			if skip {
				if d.IsDir() && !pm.Exclusions() {
					return filepath.SkipDir
				}
				// With "!pattern" exceptions a file below may still be
				// included, so keep walking but do not send this entry.
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := contextEntry{rel: rel, abs: abs, info: info}
		if info.Mode()&fs.ModeSymlink != 0 {
			if e.link, err = os.Readlink(abs); err != nil {
				return err
			}
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading build context %s: %w", spec.contextDir, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out, nil
}

// contextDigest is a deterministic digest of everything that determines the
// built image: context files (names, types, permissions, contents), the
// Dockerfile, build args, target and platform. It is stored in the inputs so
// an unchanged context gives no diff and a changed file gives an update.
func contextDigest(spec buildSpec) (string, error) {
	entries, err := contextEntries(spec)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "mail-system/docker-context/v1\n")
	for _, e := range entries {
		mode := e.info.Mode()
		switch {
		case mode.IsDir():
			fmt.Fprintf(h, "d %q %o\n", e.rel, mode.Perm())
		case mode&fs.ModeSymlink != 0:
			fmt.Fprintf(h, "l %q %q\n", e.rel, e.link)
		case mode.IsRegular():
			sum, err := fileSHA256(e.abs)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "f %q %o %s\n", e.rel, mode.Perm(), sum)
		}
	}
	dfSum, err := fileSHA256(spec.dockerfile)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "dockerfile %q %s\n", spec.inContext, dfSum)
	keys := make([]string, 0, len(spec.args))
	for k := range spec.args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "arg %q %q\n", k, spec.args[k])
	}
	fmt.Fprintf(h, "target %q\nplatform %q\n", spec.target, spec.platform)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeContextTar streams the build context as a tar to w and returns the
// Dockerfile name to pass to the daemon. A Dockerfile outside the context is
// added under a generated name, as the docker CLI does.
func writeContextTar(spec buildSpec, entries []contextEntry, w io.Writer) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		hdr, err := tar.FileInfoHeader(e.info, e.link)
		if err != nil {
			return err
		}
		hdr.Name = e.rel
		if e.info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if e.info.Mode().IsRegular() {
			if err := copyFile(tw, e.abs); err != nil {
				return err
			}
		}
	}
	if spec.inContext == "" {
		data, err := os.ReadFile(spec.dockerfile)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: outsideDockerfileName(spec), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return tw.Close()
}

func outsideDockerfileName(spec buildSpec) string {
	sum := sha256.Sum256([]byte(spec.dockerfile))
	return ".dockerfile." + hex.EncodeToString(sum[:6])
}

func dockerfileName(spec buildSpec) string {
	if spec.inContext != "" {
		return spec.inContext
	}
	return outsideDockerfileName(spec)
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
