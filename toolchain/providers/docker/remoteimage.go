package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
)

// RemoteImage is `docker:index/remoteImage:RemoteImage`: makes sure an image
// is present locally (pulling it if needed). ID: `<imageId><name>`, the
// format of the official (Terraform-based) provider.
type RemoteImage struct{}

type RemoteImageArgs struct {
	Name         string            `pulumi:"name"`
	KeepLocally  *bool             `pulumi:"keepLocally,optional"`
	ForceRemove  *bool             `pulumi:"forceRemove,optional"`
	PullTriggers []string          `pulumi:"pullTriggers,optional"`
	Triggers     map[string]string `pulumi:"triggers,optional"`
	Platform     *string           `pulumi:"platform,optional"`
}

type RemoteImageState struct {
	RemoteImageArgs
	ImageID    string `pulumi:"imageId"`
	RepoDigest string `pulumi:"repoDigest"`
}

func (r *RemoteImage) Annotate(a infer.Annotator) {
	a.SetToken("index/remoteImage", "RemoteImage")
	a.Describe(r, "A Docker image present in the local image store, pulled if missing.")
}

func (a *RemoteImageArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.Name, "The name of the Docker image, including any tags or SHA256 repo digests.")
	an.Describe(&a.KeepLocally, "If true, the image is not deleted on destroy.")
	an.Describe(&a.ForceRemove, "If true, the image is removed forcibly on destroy.")
	an.Describe(&a.PullTriggers, "Values which cause an image pull (replacement) when changed.")
	an.Describe(&a.Triggers, "Values which force a replacement when changed.")
}

func (s *RemoteImageState) Annotate(a infer.Annotator) {
	a.Describe(&s.ImageID, "The ID of the image (as `docker inspect` shows it).")
	a.Describe(&s.RepoDigest, "The image sha256 digest in the form `repo[:tag]@sha256:<hash>`, if the image has one.")
}

func (*RemoteImage) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[RemoteImageArgs], error) {
	news := req.NewInputs
	var failures []p.CheckFailure
	if v, ok := news.GetOk("build"); ok && !v.IsNull() {
		failures = append(failures, p.CheckFailure{Property: "build", Reason: "RemoteImage.build is not supported by this provider; use docker.Image to build"})
		news = news.Delete("build")
	}
	args, f, err := infer.DefaultCheck[RemoteImageArgs](ctx, news)
	return infer.CheckResponse[RemoteImageArgs]{Inputs: args, Failures: append(failures, f...)}, err
}

func (*RemoteImage) Create(ctx context.Context, req infer.CreateRequest[RemoteImageArgs]) (infer.CreateResponse[RemoteImageState], error) {
	state := RemoteImageState{RemoteImageArgs: req.Inputs}
	if req.DryRun {
		return infer.CreateResponse[RemoteImageState]{Output: state}, nil
	}
	img, err := ensureImage(ctx, req.Inputs.Name, deref(req.Inputs.Platform))
	if err != nil {
		return infer.CreateResponse[RemoteImageState]{}, err
	}
	fillRemoteImage(&state, img)
	return infer.CreateResponse[RemoteImageState]{ID: img.ID + req.Inputs.Name, Output: state}, nil
}

// ensureImage returns the local image `ref`, pulling it when it is missing.
func ensureImage(ctx context.Context, ref, platform string) (image.InspectResponse, error) {
	cl, err := dockerClient(ctx)
	if err != nil {
		return image.InspectResponse{}, err
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	img, err := cl.ImageInspect(cctx, ref)
	cancel()
	if err == nil {
		return img, nil
	}
	if !isNotFound(err) {
		return image.InspectResponse{}, fmt.Errorf("inspecting image %q: %w", ref, err)
	}
	p.GetLogger(ctx).InfoStatusf("pulling image %s", ref)
	if err := pullImage(ctx, ref, platform); err != nil {
		return image.InspectResponse{}, fmt.Errorf("image %q is not present locally and could not be pulled: %w", ref, err)
	}
	cctx, cancel = withTimeout(ctx, apiTimeout)
	defer cancel()
	img, err = cl.ImageInspect(cctx, ref)
	if err != nil {
		return image.InspectResponse{}, fmt.Errorf("inspecting pulled image %q: %w", ref, err)
	}
	return img, nil
}

func pullImage(ctx context.Context, ref, platform string) error {
	cl, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := withTimeout(ctx, pullTimeout)
	defer cancel()
	rc, err := cl.ImagePull(cctx, ref, image.PullOptions{Platform: platform})
	if err != nil {
		return err
	}
	defer rc.Close()
	return streamMessages(ctx, rc, nil)
}

// streamMessages reads the daemon's JSON message stream (pull/build), shows
// progress as status lines, hands each message to onMsg (if non-nil) and
// returns the stream's error message, if any.
func streamMessages(ctx context.Context, r io.Reader, onMsg func(jsonmessage.JSONMessage)) error {
	log := p.GetLogger(ctx)
	dec := json.NewDecoder(r)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading daemon output: %w", err)
		}
		if m.Error != nil {
			return errors.New(m.Error.Message)
		}
		if m.ErrorMessage != "" { // old daemons fill only this (deprecated) field
			return errors.New(m.ErrorMessage)
		}
		if onMsg != nil {
			onMsg(m)
		}
		if line := strings.TrimSpace(m.Stream); line != "" {
			log.InfoStatus(line)
		} else if m.Status != "" {
			log.InfoStatus(strings.TrimSpace(m.ID + " " + m.Status))
		}
	}
}

func fillRemoteImage(state *RemoteImageState, img image.InspectResponse) {
	state.ImageID = img.ID
	state.RepoDigest = ""
	repo := state.Name
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	} else if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	for _, d := range img.RepoDigests {
		if strings.HasPrefix(d, repo+"@") {
			state.RepoDigest = d
			return
		}
	}
	if len(img.RepoDigests) > 0 {
		state.RepoDigest = img.RepoDigests[0]
	}
}

func (*RemoteImage) Read(ctx context.Context, req infer.ReadRequest[RemoteImageArgs, RemoteImageState]) (infer.ReadResponse[RemoteImageArgs, RemoteImageState], error) {
	cl, err := dockerClient(ctx)
	if err != nil {
		return infer.ReadResponse[RemoteImageArgs, RemoteImageState]{}, err
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	defer cancel()
	img, err := cl.ImageInspect(cctx, req.State.Name)
	if isNotFound(err) && req.State.ImageID != "" {
		img, err = cl.ImageInspect(cctx, req.State.ImageID)
	}
	if isNotFound(err) {
		return infer.ReadResponse[RemoteImageArgs, RemoteImageState]{}, nil
	}
	if err != nil {
		return infer.ReadResponse[RemoteImageArgs, RemoteImageState]{}, err
	}
	state := req.State
	fillRemoteImage(&state, img)
	return infer.ReadResponse[RemoteImageArgs, RemoteImageState]{ID: req.ID, Inputs: req.Inputs, State: state}, nil
}

// Update only changes keepLocally/forceRemove, which matter on delete.
func (*RemoteImage) Update(ctx context.Context, req infer.UpdateRequest[RemoteImageArgs, RemoteImageState]) (infer.UpdateResponse[RemoteImageState], error) {
	state := req.State
	state.RemoteImageArgs = req.Inputs
	return infer.UpdateResponse[RemoteImageState]{Output: state}, nil
}

func (*RemoteImage) Delete(ctx context.Context, req infer.DeleteRequest[RemoteImageState]) (infer.DeleteResponse, error) {
	if deref(req.State.KeepLocally) {
		return infer.DeleteResponse{}, nil
	}
	cl, err := dockerClient(ctx)
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	defer cancel()
	// Remove by name: this drops our tag, and the image itself once no other
	// tag refers to it.
	_, err = cl.ImageRemove(cctx, req.State.Name, image.RemoveOptions{Force: deref(req.State.ForceRemove), PruneChildren: true})
	if err != nil && !isNotFound(err) {
		return infer.DeleteResponse{}, fmt.Errorf("removing image %q: %w", req.State.Name, err)
	}
	return infer.DeleteResponse{}, nil
}

// WireDependencies: keepLocally/forceRemove (the only in-place updates) do
// not change the image, so previews keep imageId and repoDigest known.
func (*RemoteImage) WireDependencies(f infer.FieldSelector, args *RemoteImageArgs, state *RemoteImageState) {
	img := []infer.InputField{f.InputField(&args.Name).Computed(), f.InputField(&args.Platform).Computed(),
		f.InputField(&args.PullTriggers).Computed(), f.InputField(&args.Triggers).Computed()}
	f.OutputField(&state.ImageID).DependsOn(img...)
	f.OutputField(&state.RepoDigest).DependsOn(img...)
}
