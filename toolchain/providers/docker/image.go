package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/pkg/jsonmessage"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
)

// Image is the native `docker:index/image:Image` of the v4/v5 SDK: it builds
// an image from a local context through the Engine API and tags it
// imageName. Pushing is not supported here (skipPush must be true).
//
// ID: the image name, as the official provider uses. Delete leaves the tag
// alone, as documented ("This resource does not delete tags").
type Image struct{}

type ImageArgs struct {
	ImageName      string       `pulumi:"imageName"`
	Build          *DockerBuild `pulumi:"build,optional"`
	BuildOnPreview *bool        `pulumi:"buildOnPreview,optional"`
	Registry       *Registry    `pulumi:"registry,optional"`
	SkipPush       *bool        `pulumi:"skipPush,optional"`
	// ContextDigest is computed by Check from the build context, Dockerfile,
	// args and target; a change of it rebuilds the image.
	ContextDigest *string `pulumi:"contextDigest,optional"`
}

type DockerBuild struct {
	AddHosts       []string          `pulumi:"addHosts,optional"`
	Args           map[string]string `pulumi:"args,optional"`
	BuilderVersion *string           `pulumi:"builderVersion,optional"`
	CacheFrom      *CacheFrom        `pulumi:"cacheFrom,optional"`
	Context        *string           `pulumi:"context,optional"`
	Dockerfile     *string           `pulumi:"dockerfile,optional"`
	Network        *string           `pulumi:"network,optional"`
	Platform       *string           `pulumi:"platform,optional"`
	Target         *string           `pulumi:"target,optional"`
}

type CacheFrom struct {
	Images []string `pulumi:"images,optional"`
}

type Registry struct {
	Server   *string `pulumi:"server,optional"`
	Username *string `pulumi:"username,optional"`
	Password *string `pulumi:"password,optional" provider:"secret"`
}

type ImageState struct {
	ImageArgs
	BaseImageName  string  `pulumi:"baseImageName"`
	Context        string  `pulumi:"context"`
	Dockerfile     string  `pulumi:"dockerfile"`
	Platform       *string `pulumi:"platform,optional"`
	RegistryServer string  `pulumi:"registryServer"`
	RepoDigest     string  `pulumi:"repoDigest"`
}

func (i *Image) Annotate(a infer.Annotator) {
	a.SetToken("index/image", "Image")
	a.AddAlias("image", "Image")
	a.Describe(i, "Builds a Docker image from a local context with the Docker Engine API (no push).")
}

func (a *ImageArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.ImageName, "The image name, of the format repository[:tag].")
	an.Describe(&a.Build, "The Docker build context.")
	an.Describe(&a.BuildOnPreview, "A flag to build an image on preview.")
	an.SetDefault(&a.BuildOnPreview, false)
	an.Describe(&a.SkipPush, "A flag to skip a registry push. Must be true: this provider does not push.")
	an.SetDefault(&a.SkipPush, false)
	an.Describe(&a.ContextDigest, "Internal: digest of the build context, Dockerfile, args and target (set by the provider).")
}

func (s *ImageState) Annotate(a infer.Annotator) {
	a.Describe(&s.RepoDigest, "For local images, the image ID of the built image (sha256:...).")
	a.Describe(&s.Dockerfile, "The location of the Dockerfile relative to the docker build context.")
	a.Describe(&s.Context, "The path to the build context.")
}

func (*Image) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[ImageArgs], error) {
	args, failures, err := infer.DefaultCheck[ImageArgs](ctx, req.NewInputs.Delete("contextDigest"))
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[ImageArgs]{Inputs: args, Failures: failures}, err
	}
	if v := req.NewInputs.Get("skipPush"); !v.IsComputed() && !deref(args.SkipPush) {
		failures = append(failures, p.CheckFailure{Property: "skipPush",
			Reason: "pushing images to a registry is not supported by this provider build; set skipPush: true"})
	}
	if args.Build != nil {
		if bv := deref(args.Build.BuilderVersion); bv != "" && bv != "BuilderV1" && bv != "BuilderBuildKit" {
			failures = append(failures, p.CheckFailure{Property: "build.builderVersion", Reason: "must be BuilderV1 or BuilderBuildKit"})
		}
	}
	// Hash the context only when everything it depends on is known.
	if !req.NewInputs.Get("build").HasComputed() {
		spec, err := resolveBuild(args.Build)
		if err != nil {
			failures = append(failures, p.CheckFailure{Property: "build", Reason: err.Error()})
		} else if d, err := contextDigest(spec); err != nil {
			failures = append(failures, p.CheckFailure{Property: "build.context", Reason: err.Error()})
		} else {
			args.ContextDigest = &d
		}
	}
	return infer.CheckResponse[ImageArgs]{Inputs: args, Failures: failures}, nil
}

func (*Image) Create(ctx context.Context, req infer.CreateRequest[ImageArgs]) (infer.CreateResponse[ImageState], error) {
	state, err := buildImage(ctx, req.Inputs, req.DryRun)
	if err != nil {
		return infer.CreateResponse[ImageState]{}, err
	}
	return infer.CreateResponse[ImageState]{ID: req.Inputs.ImageName, Output: state}, nil
}

func (*Image) Update(ctx context.Context, req infer.UpdateRequest[ImageArgs, ImageState]) (infer.UpdateResponse[ImageState], error) {
	state, err := buildImage(ctx, req.Inputs, req.DryRun)
	if err != nil {
		return infer.UpdateResponse[ImageState]{}, err
	}
	return infer.UpdateResponse[ImageState]{Output: state}, nil
}

// buildImage fills the outputs and, unless this is a preview without
// buildOnPreview, builds the image.
func buildImage(ctx context.Context, args ImageArgs, dryRun bool) (ImageState, error) {
	state := ImageState{
		ImageArgs:      args,
		BaseImageName:  args.ImageName,
		RegistryServer: registryServer(args),
	}
	var b DockerBuild
	if args.Build != nil {
		b = *args.Build
	}
	state.Context = derefOr(b.Context, ".")
	state.Platform = b.Platform
	spec, err := resolveBuild(args.Build)
	if err != nil {
		if dryRun {
			return state, nil
		}
		return state, err
	}
	state.Dockerfile = dockerfileName(spec)
	if dryRun && !deref(args.BuildOnPreview) {
		return state, nil
	}
	if !deref(args.SkipPush) && !dryRun {
		return state, fmt.Errorf("pushing images to a registry is not supported by this provider build; set skipPush: true")
	}
	id, err := runBuild(ctx, args, spec)
	if err != nil {
		return state, err
	}
	state.RepoDigest = id
	return state, nil
}

// registryServer is registry.server, else the registry part of imageName,
// else Docker Hub.
func registryServer(args ImageArgs) string {
	if args.Registry != nil && deref(args.Registry.Server) != "" {
		return *args.Registry.Server
	}
	name := args.ImageName
	if i := strings.Index(name, "/"); i > 0 {
		first := name[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" {
			return first
		}
	}
	return "docker.io"
}

// runBuild sends the context to the daemon's /build endpoint, streams the
// output to the Pulumi log and returns the built image ID.
func runBuild(ctx context.Context, args ImageArgs, spec buildSpec) (string, error) {
	cl, err := dockerClient(ctx)
	if err != nil {
		return "", err
	}
	log := p.GetLogger(ctx)
	var b DockerBuild
	if args.Build != nil {
		b = *args.Build
	}
	if deref(b.BuilderVersion) == "BuilderBuildKit" {
		// BuildKit over the Engine API needs a gRPC session; the classic
		// builder gives the same result for ordinary Dockerfiles.
		log.Info("builderVersion BuilderBuildKit requested; this provider builds with the classic builder (BuilderV1)")
	}
	entries, err := contextEntries(spec)
	if err != nil {
		return "", err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeContextTar(spec, entries, pw)) }()
	defer pr.Close()

	buildArgs := map[string]*string{}
	for k, v := range spec.args {
		buildArgs[k] = ptr(v)
	}
	var cacheFrom []string
	if b.CacheFrom != nil {
		cacheFrom = b.CacheFrom.Images
	}
	bctx, cancel := withTimeout(ctx, buildTimeout)
	defer cancel()
	resp, err := cl.ImageBuild(bctx, pr, build.ImageBuildOptions{
		Tags:        []string{args.ImageName},
		Dockerfile:  dockerfileName(spec),
		BuildArgs:   buildArgs,
		Target:      spec.target,
		Platform:    spec.platform,
		ExtraHosts:  b.AddHosts,
		NetworkMode: deref(b.Network),
		CacheFrom:   cacheFrom,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return "", fmt.Errorf("building image %s: %w", args.ImageName, err)
	}
	defer resp.Body.Close()

	var tail []string // last output lines, for the error message
	var builtID string
	err = streamMessages(ctx, resp.Body, func(m jsonmessage.JSONMessage) {
		for _, line := range strings.Split(strings.TrimRight(m.Stream, "\n"), "\n") {
			if line = strings.TrimRight(line, "\r "); line != "" {
				tail = append(tail, line)
			}
		}
		if len(tail) > 30 {
			tail = tail[len(tail)-30:]
		}
		if m.Aux != nil {
			var aux struct{ ID string }
			if json.Unmarshal(*m.Aux, &aux) == nil && aux.ID != "" {
				builtID = aux.ID
			}
		}
	})
	if err != nil {
		return "", fmt.Errorf("building image %s failed: %s\n--- last build output ---\n%s", args.ImageName, err, strings.Join(tail, "\n"))
	}
	cctx, cancel2 := withTimeout(ctx, apiTimeout)
	defer cancel2()
	img, err := cl.ImageInspect(cctx, args.ImageName)
	if err != nil {
		return "", fmt.Errorf("inspecting built image %s: %w", args.ImageName, err)
	}
	if builtID != "" && builtID != img.ID {
		return "", fmt.Errorf("built image %s but tag %s points to %s", builtID, args.ImageName, img.ID)
	}
	log.Infof("built %s (%s)", args.ImageName, img.ID)
	return img.ID, nil
}

// Read drops the resource when the tag no longer exists locally, so the next
// update rebuilds it; otherwise the recorded state is kept.
func (*Image) Read(ctx context.Context, req infer.ReadRequest[ImageArgs, ImageState]) (infer.ReadResponse[ImageArgs, ImageState], error) {
	cl, err := dockerClient(ctx)
	if err != nil {
		return infer.ReadResponse[ImageArgs, ImageState]{}, err
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	defer cancel()
	name := req.State.ImageName
	if name == "" {
		name = req.ID
	}
	if _, err := cl.ImageInspect(cctx, name); err != nil {
		if isNotFound(err) {
			return infer.ReadResponse[ImageArgs, ImageState]{}, nil
		}
		return infer.ReadResponse[ImageArgs, ImageState]{}, err
	}
	return infer.ReadResponse[ImageArgs, ImageState]{ID: req.ID, Inputs: req.Inputs, State: req.State}, nil
}

// Delete does nothing: the official provider does not delete tags either.
func (*Image) Delete(ctx context.Context, req infer.DeleteRequest[ImageState]) (infer.DeleteResponse, error) {
	return infer.DeleteResponse{}, nil
}

// WireDependencies: only what shapes the build makes repoDigest unknown in a
// preview (not registry credentials, skipPush or buildOnPreview).
func (*Image) WireDependencies(f infer.FieldSelector, args *ImageArgs, state *ImageState) {
	f.OutputField(&state.RepoDigest).DependsOn(f.InputField(&args.ImageName).Computed(),
		f.InputField(&args.Build).Computed(), f.InputField(&args.ContextDigest).Computed())
}
