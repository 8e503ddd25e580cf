package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/volume"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
)

// Volume is `docker:index/volume:Volume`. ID: the volume name (as the official
// provider). Every input change replaces the volume.
type Volume struct{}

type VolumeArgs struct {
	Name       *string           `pulumi:"name,optional"`
	Driver     *string           `pulumi:"driver,optional"`
	DriverOpts map[string]string `pulumi:"driverOpts,optional"`
	Labels     []Label           `pulumi:"labels,optional"`
}

type VolumeState struct {
	VolumeArgs
	Mountpoint string `pulumi:"mountpoint"`
}

func (v *Volume) Annotate(a infer.Annotator) {
	a.SetToken("index/volume", "Volume")
	a.Describe(v, "A Docker volume (docker volume create).")
}

func (a *VolumeArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.Name, "The name of the Docker volume (auto-named if omitted).")
	an.Describe(&a.Driver, "Driver type for the volume. Defaults to `local`.")
}

func (s *VolumeState) Annotate(a infer.Annotator) {
	a.Describe(&s.Mountpoint, "The mountpoint of the volume.")
}

func (*Volume) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[VolumeArgs], error) {
	// `cluster` (swarm volumes) is not implemented: being absent from
	// VolumeArgs, it fails as an unknown key (../shared/checkkeys).
	news := nameFor(req.NewInputs, req.OldInputs, req.Name)
	args, failures, err := infer.DefaultCheck[VolumeArgs](ctx, news)
	return infer.CheckResponse[VolumeArgs]{Inputs: args, Failures: failures}, err
}

func (*Volume) Create(ctx context.Context, req infer.CreateRequest[VolumeArgs]) (infer.CreateResponse[VolumeState], error) {
	args := req.Inputs
	state := VolumeState{VolumeArgs: args}
	name := deref(args.Name)
	if req.DryRun {
		return infer.CreateResponse[VolumeState]{ID: name, Output: state}, nil
	}
	cl, err := dockerClient(ctx)
	if err != nil {
		return infer.CreateResponse[VolumeState]{}, err
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	defer cancel()
	// Docker's create is idempotent: an existing volume of that name is
	// adopted (as upstream does). Say so, since its data predates us.
	if _, err := cl.VolumeInspect(cctx, name); err == nil {
		p.GetLogger(ctx).Warningf("volume %q already exists; adopting it with its current contents", name)
	}
	v, err := cl.VolumeCreate(cctx, volume.CreateOptions{
		Name:       name,
		Driver:     deref(args.Driver),
		DriverOpts: args.DriverOpts,
		Labels:     labelsMap(args.Labels),
	})
	if err != nil {
		return infer.CreateResponse[VolumeState]{}, fmt.Errorf("creating volume %q: %w", name, err)
	}
	fillVolume(&state, v)
	return infer.CreateResponse[VolumeState]{ID: v.Name, Output: state}, nil
}

func fillVolume(state *VolumeState, v volume.Volume) {
	state.Mountpoint = v.Mountpoint
	if state.Driver == nil {
		state.Driver = ptr(v.Driver)
	}
	if state.Name == nil {
		state.Name = ptr(v.Name)
	}
}

func (*Volume) Read(ctx context.Context, req infer.ReadRequest[VolumeArgs, VolumeState]) (infer.ReadResponse[VolumeArgs, VolumeState], error) {
	cl, err := dockerClient(ctx)
	if err != nil {
		return infer.ReadResponse[VolumeArgs, VolumeState]{}, err
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	defer cancel()
	v, err := cl.VolumeInspect(cctx, req.ID)
	if isNotFound(err) {
		return infer.ReadResponse[VolumeArgs, VolumeState]{}, nil
	}
	if err != nil {
		return infer.ReadResponse[VolumeArgs, VolumeState]{}, err
	}
	state := req.State
	fillVolume(&state, v)
	return infer.ReadResponse[VolumeArgs, VolumeState]{ID: req.ID, Inputs: req.Inputs, State: state}, nil
}

func (*Volume) Delete(ctx context.Context, req infer.DeleteRequest[VolumeState]) (infer.DeleteResponse, error) {
	cl, err := dockerClient(ctx)
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	// A container removed just before may still be releasing the volume.
	deadline := time.Now().Add(removeRetry)
	for {
		cctx, cancel := withTimeout(ctx, apiTimeout)
		err := cl.VolumeRemove(cctx, req.ID, false)
		cancel()
		if err == nil || isNotFound(err) {
			return infer.DeleteResponse{}, nil
		}
		if !(isConflict(err) || strings.Contains(err.Error(), "in use")) || time.Now().After(deadline) {
			return infer.DeleteResponse{}, fmt.Errorf("removing volume %q: %w", req.ID, err)
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return infer.DeleteResponse{}, err
		}
	}
}
