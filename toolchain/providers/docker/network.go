package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/network"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
)

// Network is `docker:index/network:Network`. ID: the Docker network ID (as the
// official provider). Every input change replaces the network.
type Network struct{}

type NetworkArgs struct {
	Name           *string             `pulumi:"name,optional"`
	Driver         *string             `pulumi:"driver,optional"`
	Internal       *bool               `pulumi:"internal,optional"`
	Attachable     *bool               `pulumi:"attachable,optional"`
	Ingress        *bool               `pulumi:"ingress,optional"`
	Ipv6           *bool               `pulumi:"ipv6,optional"`
	IpamDriver     *string             `pulumi:"ipamDriver,optional"`
	IpamOptions    map[string]string   `pulumi:"ipamOptions,optional"`
	IpamConfigs    []NetworkIpamConfig `pulumi:"ipamConfigs,optional"`
	Options        map[string]string   `pulumi:"options,optional"`
	Labels         []Label             `pulumi:"labels,optional"`
	CheckDuplicate *bool               `pulumi:"checkDuplicate,optional"`
}

type NetworkIpamConfig struct {
	Subnet     *string           `pulumi:"subnet,optional"`
	Gateway    *string           `pulumi:"gateway,optional"`
	IpRange    *string           `pulumi:"ipRange,optional"`
	AuxAddress map[string]string `pulumi:"auxAddress,optional"`
}

type NetworkState struct {
	NetworkArgs
	Scope string `pulumi:"scope"`
}

func (n *Network) Annotate(a infer.Annotator) {
	a.SetToken("index/network", "Network")
	a.Describe(n, "A Docker network (docker network create).")
}

func (a *NetworkArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.Name, "The name of the Docker network (auto-named if omitted).")
	an.Describe(&a.Driver, "The driver of the Docker network. Defaults to `bridge`.")
	an.SetDefault(&a.Driver, "bridge")
	an.Describe(&a.IpamDriver, "Driver used by the custom IP scheme of the network. Defaults to `default`.")
	an.SetDefault(&a.IpamDriver, "default")
	an.Describe(&a.CheckDuplicate, "Accepted for compatibility; duplicate names are always rejected.")
}

func (s *NetworkState) Annotate(a infer.Annotator) {
	a.Describe(&s.Scope, "Scope of the network. One of `swarm`, `global`, or `local`.")
}

func (*Network) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[NetworkArgs], error) {
	news := nameFor(req.NewInputs, req.OldInputs, req.Name)
	args, failures, err := infer.DefaultCheck[NetworkArgs](ctx, news)
	return infer.CheckResponse[NetworkArgs]{Inputs: args, Failures: failures}, err
}

func (*Network) Create(ctx context.Context, req infer.CreateRequest[NetworkArgs]) (infer.CreateResponse[NetworkState], error) {
	args := req.Inputs
	state := NetworkState{NetworkArgs: args}
	if req.DryRun {
		return infer.CreateResponse[NetworkState]{Output: state}, nil
	}
	cl, err := dockerClient(ctx)
	if err != nil {
		return infer.CreateResponse[NetworkState]{}, err
	}
	name := deref(args.Name)

	opts := network.CreateOptions{
		Driver:     derefOr(args.Driver, "bridge"),
		Internal:   deref(args.Internal),
		Attachable: deref(args.Attachable),
		Ingress:    deref(args.Ingress),
		Options:    args.Options,
		Labels:     labelsMap(args.Labels),
		IPAM: &network.IPAM{
			Driver:  derefOr(args.IpamDriver, "default"),
			Options: args.IpamOptions,
		},
	}
	if deref(args.Ipv6) {
		opts.EnableIPv6 = ptr(true)
	}
	for _, c := range args.IpamConfigs {
		opts.IPAM.Config = append(opts.IPAM.Config, network.IPAMConfig{
			Subnet: deref(c.Subnet), Gateway: deref(c.Gateway), IPRange: deref(c.IpRange), AuxAddress: c.AuxAddress,
		})
	}

	cctx, cancel := withTimeout(ctx, apiTimeout)
	defer cancel()
	// The API only rejects duplicate names when asked to (the client asks on
	// API < 1.44); check explicitly so a clash is a clear error, never a
	// second network with the same name.
	if existing, err := cl.NetworkInspect(cctx, name, network.InspectOptions{}); err == nil && existing.Name == name {
		return infer.CreateResponse[NetworkState]{}, fmt.Errorf("a Docker network named %q already exists (id %s)", name, shortID(existing.ID))
	}
	// Not cancelled with the deployment (Ctrl-C): a network made while the
	// request was cancelled would hold the name outside any state.
	nctx, ncancel := withTimeout(context.WithoutCancel(ctx), apiTimeout)
	defer ncancel()
	resp, err := cl.NetworkCreate(nctx, name, opts)
	if err != nil {
		return infer.CreateResponse[NetworkState]{}, fmt.Errorf("creating network %q: %w", name, err)
	}
	if resp.Warning != "" {
		p.GetLogger(ctx).Warning(resp.Warning)
	}
	// Read with the same uncancelled context: the network exists now, and a
	// Ctrl-C here would otherwise leave it in the state with an init error.
	if err := readNetwork(nctx, resp.ID, &state); err != nil {
		return infer.CreateResponse[NetworkState]{ID: resp.ID, Output: state}, infer.ResourceInitFailedError{Reasons: []string{err.Error()}}
	}
	return infer.CreateResponse[NetworkState]{ID: resp.ID, Output: state}, nil
}

// readNetwork fills the computed outputs from the daemon. It keeps the inputs
// as given so that a refresh does not invent diffs.
func readNetwork(ctx context.Context, id string, state *NetworkState) error {
	cl, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	n, err := cl.NetworkInspect(ctx, id, network.InspectOptions{})
	if err != nil {
		return err
	}
	state.Scope = n.Scope
	if len(state.IpamConfigs) == 0 {
		// Report the addresses Docker chose.
		for _, c := range n.IPAM.Config {
			ic := NetworkIpamConfig{AuxAddress: c.AuxAddress}
			if c.Subnet != "" {
				ic.Subnet = ptr(c.Subnet)
			}
			if c.Gateway != "" {
				ic.Gateway = ptr(c.Gateway)
			}
			if c.IPRange != "" {
				ic.IpRange = ptr(c.IPRange)
			}
			state.IpamConfigs = append(state.IpamConfigs, ic)
		}
	}
	if state.Name == nil {
		state.Name = ptr(n.Name)
	}
	if state.Driver == nil {
		state.Driver = ptr(n.Driver)
	}
	if state.Internal == nil {
		state.Internal = ptr(n.Internal)
	}
	return nil
}

func (*Network) Read(ctx context.Context, req infer.ReadRequest[NetworkArgs, NetworkState]) (infer.ReadResponse[NetworkArgs, NetworkState], error) {
	state := req.State
	cctx, cancel := withTimeout(ctx, apiTimeout)
	defer cancel()
	if err := readNetwork(cctx, req.ID, &state); err != nil {
		if isNotFound(err) {
			return infer.ReadResponse[NetworkArgs, NetworkState]{}, nil // gone: refresh drops it
		}
		return infer.ReadResponse[NetworkArgs, NetworkState]{}, err
	}
	return infer.ReadResponse[NetworkArgs, NetworkState]{ID: req.ID, Inputs: req.Inputs, State: state}, nil
}

// Update runs only to finish a create that ended with an init error (every
// input change replaces a network, see diffPolicies): the engine retries it
// on the next `up` with unchanged inputs, and upstream's update then reads
// the network back. So do we.
func (*Network) Update(ctx context.Context, req infer.UpdateRequest[NetworkArgs, NetworkState]) (infer.UpdateResponse[NetworkState], error) {
	state := NetworkState{NetworkArgs: req.Inputs, Scope: req.State.Scope}
	if req.DryRun {
		return infer.UpdateResponse[NetworkState]{Output: state}, nil
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	defer cancel()
	if err := readNetwork(cctx, req.ID, &state); err != nil {
		return infer.UpdateResponse[NetworkState]{Output: state}, infer.ResourceInitFailedError{Reasons: []string{err.Error()}}
	}
	return infer.UpdateResponse[NetworkState]{Output: state}, nil
}

func (*Network) Delete(ctx context.Context, req infer.DeleteRequest[NetworkState]) (infer.DeleteResponse, error) {
	cl, err := dockerClient(ctx)
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	// Containers removed just before may still hold endpoints for a moment,
	// so retry "in use" errors for a while.
	deadline := time.Now().Add(removeRetry)
	for {
		cctx, cancel := withTimeout(ctx, apiTimeout)
		err := cl.NetworkRemove(cctx, req.ID)
		cancel()
		if err == nil || isNotFound(err) {
			return infer.DeleteResponse{}, nil
		}
		if !strings.Contains(err.Error(), "active endpoints") || time.Now().After(deadline) {
			return infer.DeleteResponse{}, fmt.Errorf("removing network %s: %w%s", deref(req.State.Name), err, attachedContainers(ctx, req.ID))
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return infer.DeleteResponse{}, err
		}
	}
}

// attachedContainers names the containers still on a network, for errors.
func attachedContainers(ctx context.Context, id string) string {
	cl, err := dockerClient(ctx)
	if err != nil {
		return ""
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	defer cancel()
	n, err := cl.NetworkInspect(cctx, id, network.InspectOptions{})
	if err != nil || len(n.Containers) == 0 {
		return ""
	}
	var names []string
	for _, c := range n.Containers {
		names = append(names, c.Name)
	}
	sort.Strings(names)
	return " (still attached: " + strings.Join(names, ", ") + ")"
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
