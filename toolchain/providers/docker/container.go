package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// Container is `docker:index/container:Container`. ID: the Docker container
// ID (as the official provider).
//
// Replace vs update follows the official provider: nearly every argument
// forces a replacement (the container is created once and never mutated).
// In place: the restart policy and cgroup resources (applied with the
// update API) and the provider-side settings listed in containerUpdatable.
// healthcheck, init and tmpfs are not ForceNew upstream but cannot change on a
// live container, so they replace here.
type Container struct{}

var containerUpdatable = set(
	"restart", "maxRetryCount", "memory", "memorySwap", "memoryReservation",
	"cpuShares", "cpuSet", "cpuPeriod", "cpuQuota",
	"start", "mustRun", "wait", "waitTimeout", "attach", "logs",
	"removeVolumes", "destroyGraceSeconds", "containerReadRefreshTimeoutMilliseconds",
)

// containerReplaceIf: mustRun false -> true recreates the container. Read
// sets mustRun=false when it finds a container that should run but has
// stopped (the official provider's documented behaviour).
func containerReplaceIf(key string, old, new property.Value) bool {
	return key == "mustRun" && isEmpty(old) && (new.IsComputed() || (new.IsBool() && new.AsBool()))
}

var permissionsRE = regexp.MustCompile(`^0?[0-7]{3,4}$`)

func (*Container) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[ContainerArgs], error) {
	news := nameFor(req.NewInputs, req.OldInputs, req.Name)
	args, failures, err := infer.DefaultCheck[ContainerArgs](ctx, news)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[ContainerArgs]{Inputs: args, Failures: failures}, err
	}
	fail := func(prop, reason string) {
		failures = append(failures, p.CheckFailure{Property: prop, Reason: reason})
	}
	known := func(key string) bool { return !news.Get(key).HasComputed() }

	if known("restart") {
		switch deref(args.Restart) {
		case "no", "on-failure", "always", "unless-stopped":
		default:
			fail("restart", "must be one of no, on-failure, always, unless-stopped")
		}
	}
	if known("uploads") {
		for i, u := range args.Uploads {
			prop := fmt.Sprintf("uploads[%d]", i)
			n := 0
			for _, s := range []*string{u.Content, u.ContentBase64, u.Source} {
				if s != nil {
					n++
				}
			}
			if n != 1 {
				fail(prop, "exactly one of content, contentBase64 or source must be set")
			}
			if strings.TrimSpace(u.File) == "" {
				fail(prop+".file", "must be a path in the container")
			}
			if u.Permissions != nil && !permissionsRE.MatchString(*u.Permissions) {
				fail(prop+".permissions", "must be an octal mode such as 0644")
			}
			if u.ContentBase64 != nil {
				if _, err := base64.StdEncoding.DecodeString(*u.ContentBase64); err != nil {
					fail(prop+".contentBase64", "is not valid base64")
				}
			}
		}
	}
	if known("healthcheck") && args.Healthcheck != nil {
		if len(args.Healthcheck.Tests) == 0 {
			fail("healthcheck.tests", "a healthcheck needs tests, e.g. [\"CMD\", \"true\"]")
		}
		for name, d := range map[string]*string{"interval": args.Healthcheck.Interval, "timeout": args.Healthcheck.Timeout,
			"startPeriod": args.Healthcheck.StartPeriod, "startInterval": args.Healthcheck.StartInterval} {
			if _, err := parseDuration(d); err != nil {
				fail("healthcheck."+name, "must be a duration such as 5s, 500ms or 1m")
			}
		}
	}
	if known("mounts") {
		for i, m := range args.Mounts {
			switch m.Type {
			case "bind", "volume", "tmpfs":
			default:
				fail(fmt.Sprintf("mounts[%d].type", i), "must be bind, volume or tmpfs")
			}
		}
	}
	if known("wait") && deref(args.Wait) && known("start") && !derefOr(args.Start, true) {
		fail("wait", "wait needs start: true")
	}
	return infer.CheckResponse[ContainerArgs]{Inputs: args, Failures: failures}, nil
}

func (*Container) Create(ctx context.Context, req infer.CreateRequest[ContainerArgs]) (resp infer.CreateResponse[ContainerState], err error) {
	args := req.Inputs
	defer func() { err = redact(err, args) }()
	state := ContainerState{ContainerArgs: args}
	if req.DryRun {
		return infer.CreateResponse[ContainerState]{Output: state}, nil
	}
	spec, err := containerSpecFor(args)
	if err != nil {
		return infer.CreateResponse[ContainerState]{}, err
	}
	cl, err := dockerClient(ctx)
	if err != nil {
		return infer.CreateResponse[ContainerState]{}, err
	}
	if _, err := ensureImage(ctx, args.Image, deref(args.Platform)); err != nil {
		return infer.CreateResponse[ContainerState]{}, err
	}

	name := deref(args.Name)
	// Not cancelled with the deployment: a create the daemon carried out
	// while the request was being cancelled (Ctrl-C) would leave a container
	// holding the name that no state knows of. Once it exists it is ours to
	// remove if anything below fails, cancellation included.
	cctx, cancel := withTimeout(context.WithoutCancel(ctx), apiTimeout)
	created, err := cl.ContainerCreate(cctx, spec.config, spec.host, spec.net, spec.platform, name)
	cancel()
	if err != nil {
		return infer.CreateResponse[ContainerState]{}, fmt.Errorf("creating container %q: %w", name, err)
	}
	for _, w := range created.Warnings {
		p.GetLogger(ctx).Warning(w)
	}
	id := created.ID

	// From here on a failure removes the container again, so a retry does
	// not trip over a half-made container holding the name and addresses;
	// also when the failure is the deployment being cancelled (Ctrl-C), so
	// the removal must not share the cancelled context.
	if err := startContainer(ctx, id, args, spec, true); err != nil {
		if rmErr := removeContainer(context.WithoutCancel(ctx), id, derefOr(args.RemoveVolumes, true), 0); rmErr != nil {
			err = fmt.Errorf("%w (and removing the failed container %s: %v)", err, shortID(id), rmErr)
		}
		return infer.CreateResponse[ContainerState]{}, err
	}
	if err := readContainer(ctx, id, &state); err != nil && !isNotFound(err) {
		return infer.CreateResponse[ContainerState]{ID: id, Output: state}, infer.ResourceInitFailedError{Reasons: []string{err.Error()}}
	}
	return infer.CreateResponse[ContainerState]{ID: id, Output: state}, nil
}

// startContainer does what follows ContainerCreate: join the other networks,
// upload files, start, then attach or wait for health and check it runs.
func startContainer(ctx context.Context, id string, args ContainerArgs, spec containerSpec, fresh bool) error {
	cl, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	if fresh {
		for _, n := range spec.laterNets {
			cctx, cancel := withTimeout(ctx, apiTimeout)
			err := cl.NetworkConnect(cctx, n.Name, id, endpointFor(n))
			cancel()
			if err != nil {
				return fmt.Errorf("connecting container to network %q: %w", n.Name, err)
			}
		}
		if err := uploadFiles(ctx, id, args.Uploads); err != nil {
			return err
		}
	}
	if !spec.wantsStart {
		return nil
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	err = cl.ContainerStart(cctx, id, container.StartOptions{})
	cancel()
	if err != nil {
		return fmt.Errorf("starting container %q: %w", deref(args.Name), err)
	}
	if deref(args.Attach) {
		return waitExit(ctx, id)
	}
	if deref(args.Wait) {
		if err := waitHealthy(ctx, id, time.Duration(derefOr(args.WaitTimeout, 60))*time.Second); err != nil {
			return err
		}
	}
	if derefOr(args.MustRun, true) && !deref(args.Rm) {
		return checkRunning(ctx, id, time.Duration(derefOr(args.ContainerReadRefreshTimeoutMilliseconds, 15000))*time.Millisecond)
	}
	return nil
}

// checkRunning makes sure a container with mustRun is running. It gives a
// container that is still starting (restarting) up to `limit` to get there,
// and fails with the tail of its logs when it has exited.
func checkRunning(ctx context.Context, id string, limit time.Duration) error {
	cl, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	for {
		cctx, cancel := withTimeout(ctx, apiTimeout)
		c, err := cl.ContainerInspect(cctx, id)
		cancel()
		if err != nil {
			return err
		}
		st := c.State
		if st.Running && !st.Restarting {
			return nil
		}
		if !st.Restarting || time.Now().After(deadline) {
			return fmt.Errorf("container %s is not running (status %s, exit code %d)%s%s",
				strings.TrimPrefix(c.Name, "/"), st.Status, st.ExitCode, errSuffix(st.Error), logTail(ctx, id, 20))
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// waitHealthy polls the health status until it is "healthy". It fails when
// the container stops, has no healthcheck, or the timeout passes, with the
// last health check outputs.
func waitHealthy(ctx context.Context, id string, timeout time.Duration) error {
	cl, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	log := p.GetLogger(ctx)
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := withTimeout(ctx, apiTimeout)
		c, err := cl.ContainerInspect(cctx, id)
		cancel()
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(c.Name, "/")
		h := c.State.Health
		if h == nil {
			return fmt.Errorf("container %s: wait is true but the container has no healthcheck (set healthcheck or use an image with HEALTHCHECK)", name)
		}
		if h.Status == container.Healthy {
			return nil
		}
		if !c.State.Running {
			return fmt.Errorf("container %s stopped while waiting to become healthy (exit code %d)%s%s",
				name, c.State.ExitCode, healthTail(h), logTail(ctx, id, 20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s did not become healthy within %s (health status %q)%s",
				name, timeout, h.Status, healthTail(h))
		}
		log.InfoStatusf("waiting for %s to become healthy (%s)", name, h.Status)
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

func healthTail(h *container.Health) string {
	if h == nil || len(h.Log) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nlast health checks:")
	start := max(len(h.Log)-3, 0)
	for _, r := range h.Log[start:] {
		fmt.Fprintf(&b, "\n  exit %d: %s", r.ExitCode, strings.TrimSpace(r.Output))
	}
	return b.String()
}

// waitExit waits (bounded) for an attached container to finish.
func waitExit(ctx context.Context, id string) error {
	cl, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	wctx, cancel := withTimeout(ctx, attachTimeout)
	defer cancel()
	okC, errC := cl.ContainerWait(wctx, id, container.WaitConditionNotRunning)
	select {
	case <-okC:
		return nil
	case err := <-errC:
		if isNotFound(err) { // rm: true removed it already
			return nil
		}
		return fmt.Errorf("waiting for container to finish: %w", err)
	}
}

// readContainer fills the computed outputs from the daemon. Inputs stay as
// given (a refresh must not invent diffs); outputs the SDK documents as
// computed are filled when the input was not set.
func readContainer(ctx context.Context, id string, state *ContainerState) error {
	cl, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	c, err := cl.ContainerInspect(cctx, id)
	cancel()
	if err != nil {
		return err
	}
	if c.Config != nil {
		if state.Hostname == nil {
			state.Hostname = ptr(c.Config.Hostname)
		}
		if len(state.Command) == 0 {
			state.Command = c.Config.Cmd
		}
		if len(state.Entrypoints) == 0 {
			state.Entrypoints = c.Config.Entrypoint
		}
		if state.StopSignal == nil && c.Config.StopSignal != "" {
			state.StopSignal = ptr(c.Config.StopSignal)
		}
	}
	if hc := c.HostConfig; hc != nil {
		if state.LogDriver == nil {
			state.LogDriver = ptr(hc.LogConfig.Type)
		}
		if state.IpcMode == nil {
			state.IpcMode = ptr(string(hc.IpcMode))
		}
		if state.Runtime == nil {
			state.Runtime = ptr(hc.Runtime)
		}
		if state.ShmSize == nil {
			state.ShmSize = ptr(int(hc.ShmSize / mib))
		}
	}
	state.ExitCode = nil
	if c.State != nil && !c.State.Running {
		state.ExitCode = ptr(c.State.ExitCode)
	}
	state.Bridge = ""
	state.NetworkDatas = nil
	if ns := c.NetworkSettings; ns != nil {
		state.Bridge = ns.Bridge
		names := make([]string, 0, len(ns.Networks))
		for n := range ns.Networks {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			e := ns.Networks[n]
			state.NetworkDatas = append(state.NetworkDatas, ContainerNetworkData{
				NetworkName: n, IpAddress: e.IPAddress, IpPrefixLength: e.IPPrefixLen, Gateway: e.Gateway,
				GlobalIpv6Address: e.GlobalIPv6Address, GlobalIpv6PrefixLength: e.GlobalIPv6PrefixLen,
				Ipv6Gateway: e.IPv6Gateway, MacAddress: e.MacAddress,
			})
		}
		// Report the host ports Docker picked for ports without `external`
		// (on a copy: the slice is shared with the inputs).
		state.Ports = append([]ContainerPort(nil), state.Ports...)
		for i, pt := range state.Ports {
			if pt.External != nil && *pt.External > 0 {
				continue
			}
			key := nat.Port(fmt.Sprintf("%d/%s", pt.Internal, derefOr(pt.Protocol, "tcp")))
			for _, b := range ns.Ports[key] {
				if n, err := strconv.Atoi(b.HostPort); err == nil {
					state.Ports[i].External = ptr(n)
					break
				}
			}
		}
	}
	if deref(state.Attach) && deref(state.Logs) && state.ContainerLogs == nil {
		if logs, err := containerLogs(ctx, id, 0); err == nil {
			state.ContainerLogs = ptr(logs)
		}
	}
	return nil
}

func (*Container) Read(ctx context.Context, req infer.ReadRequest[ContainerArgs, ContainerState]) (infer.ReadResponse[ContainerArgs, ContainerState], error) {
	state := req.State
	if err := readContainer(ctx, req.ID, &state); err != nil {
		if isNotFound(err) {
			return infer.ReadResponse[ContainerArgs, ContainerState]{}, nil // gone: refresh drops it
		}
		return infer.ReadResponse[ContainerArgs, ContainerState]{}, err
	}
	inputs := req.Inputs
	if derefOr(state.MustRun, true) && derefOr(state.Start, true) && !deref(state.Attach) && state.ExitCode != nil {
		// Like the official provider: a container that must run but has
		// stopped gets mustRun=false, so the next update (mustRun=true in
		// the program) recreates it.
		p.GetLogger(ctx).Warningf("container %s is not running (exit code %d); it will be recreated by the next update",
			deref(state.Name), *state.ExitCode)
		state.MustRun = ptr(false)
		inputs.MustRun = ptr(false)
	}
	return infer.ReadResponse[ContainerArgs, ContainerState]{ID: req.ID, Inputs: inputs, State: state}, nil
}

// Update applies the in-place changes (see containerUpdatable).
func (*Container) Update(ctx context.Context, req infer.UpdateRequest[ContainerArgs, ContainerState]) (resp infer.UpdateResponse[ContainerState], err error) {
	olds, news := req.State.ContainerArgs, req.Inputs
	defer func() { err = redact(err, news) }()
	state := req.State
	state.ContainerArgs = news
	// Keep computed outputs that mirror unset inputs.
	for _, f := range []struct{ dst, src **string }{
		{&state.Hostname, &olds.Hostname}, {&state.LogDriver, &olds.LogDriver}, {&state.IpcMode, &olds.IpcMode},
		{&state.Runtime, &olds.Runtime}, {&state.StopSignal, &olds.StopSignal},
	} {
		if *f.dst == nil {
			*f.dst = *f.src
		}
	}
	if len(state.Command) == 0 {
		state.Command = olds.Command
	}
	if len(state.Entrypoints) == 0 {
		state.Entrypoints = olds.Entrypoints
	}
	if state.ShmSize == nil {
		state.ShmSize = olds.ShmSize
	}
	// Ports changes replace, so the host ports Docker picked stay.
	state.Ports = append([]ContainerPort(nil), news.Ports...)
	for i, pt := range state.Ports {
		for _, o := range req.State.Ports {
			if pt.External == nil && o.Internal == pt.Internal && deref(o.Protocol) == deref(pt.Protocol) && deref(o.Ip) == deref(pt.Ip) {
				state.Ports[i].External = o.External
			}
		}
	}
	if req.DryRun {
		return infer.UpdateResponse[ContainerState]{Output: state}, nil
	}
	cl, err := dockerClient(ctx)
	if err != nil {
		return infer.UpdateResponse[ContainerState]{}, err
	}
	if restartPolicy(olds) != restartPolicy(news) || !sameResources(olds, news) {
		cctx, cancel := withTimeout(ctx, apiTimeout)
		r := resources(news)
		// Only the fields the update API applies; the rest need a new
		// container and are replace-only.
		_, err := cl.ContainerUpdate(cctx, req.ID, container.UpdateConfig{
			RestartPolicy: restartPolicy(news),
			Resources: container.Resources{
				CPUShares: r.CPUShares, CPUPeriod: r.CPUPeriod, CPUQuota: r.CPUQuota, CpusetCpus: r.CpusetCpus,
				Memory: r.Memory, MemorySwap: r.MemorySwap, MemoryReservation: r.MemoryReservation,
			},
		})
		cancel()
		if err != nil {
			return infer.UpdateResponse[ContainerState]{}, fmt.Errorf("updating container %s: %w", deref(news.Name), err)
		}
	}
	// start/mustRun now true on a stopped container: start it.
	if derefOr(news.Start, true) && derefOr(news.MustRun, true) && !deref(news.Attach) && !deref(news.Rm) {
		cctx, cancel := withTimeout(ctx, apiTimeout)
		c, err := cl.ContainerInspect(cctx, req.ID)
		cancel()
		if err != nil {
			return infer.UpdateResponse[ContainerState]{}, err
		}
		if !c.State.Running {
			spec := containerSpec{wantsStart: true}
			if err := startContainer(ctx, req.ID, news, spec, false); err != nil {
				return infer.UpdateResponse[ContainerState]{}, err
			}
		}
	}
	if err := readContainer(ctx, req.ID, &state); err != nil {
		return infer.UpdateResponse[ContainerState]{}, err
	}
	return infer.UpdateResponse[ContainerState]{Output: state}, nil
}

// redact removes env values and upload contents (possibly secrets) from an
// error message, in case the daemon echoes them.
func redact(err error, a ContainerArgs) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var secrets []string
	for _, e := range a.Envs {
		if _, v, ok := strings.Cut(e, "="); ok {
			secrets = append(secrets, v)
		}
	}
	for _, u := range a.Uploads {
		for _, c := range []*string{u.Content, u.ContentBase64} {
			if c != nil {
				secrets = append(secrets, *c)
			}
		}
	}
	changed := false
	for _, sec := range secrets {
		if len(sec) >= 4 && strings.Contains(msg, sec) {
			msg, changed = strings.ReplaceAll(msg, sec, "[secret]"), true
		}
	}
	if !changed {
		return err
	}
	return redactedError{msg: msg, err: err}
}

// redactedError keeps the original error for errors.As (e.g. partial
// state) but prints the redacted message.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

func sameResources(a, b ContainerArgs) bool {
	return deref(a.CpuShares) == deref(b.CpuShares) && deref(a.CpuPeriod) == deref(b.CpuPeriod) &&
		deref(a.CpuQuota) == deref(b.CpuQuota) && deref(a.CpuSet) == deref(b.CpuSet) &&
		deref(a.Memory) == deref(b.Memory) && deref(a.MemorySwap) == deref(b.MemorySwap) &&
		deref(a.MemoryReservation) == deref(b.MemoryReservation)
}

func (*Container) Delete(ctx context.Context, req infer.DeleteRequest[ContainerState]) (infer.DeleteResponse, error) {
	s := req.State
	grace := -1 // daemon default (the container's stopTimeout, else 10 s)
	if s.DestroyGraceSeconds != nil && *s.DestroyGraceSeconds > 0 {
		grace = *s.DestroyGraceSeconds
	} else if s.StopTimeout != nil && *s.StopTimeout >= 0 {
		grace = *s.StopTimeout
	}
	return infer.DeleteResponse{}, removeContainer(ctx, req.ID, derefOr(s.RemoveVolumes, true), grace)
}

// removeContainer stops the container gracefully (grace seconds; -1 means
// the daemon's default, 0 kills at once), removes it (with its anonymous
// volumes if asked) and waits until it is gone. A missing container is fine.
func removeContainer(ctx context.Context, id string, volumes bool, grace int) error {
	cl, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	if grace != 0 {
		var timeout *int
		budget := 10
		if grace > 0 {
			timeout, budget = &grace, grace
		}
		cctx, cancel := withTimeout(ctx, time.Duration(budget)*time.Second+apiTimeout)
		err := cl.ContainerStop(cctx, id, container.StopOptions{Timeout: timeout})
		cancel()
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			p.GetLogger(ctx).Warningf("stopping container %s: %v; removing it forcibly", shortID(id), err)
		}
	}
	cctx, cancel := withTimeout(ctx, apiTimeout)
	err = cl.ContainerRemove(cctx, id, container.RemoveOptions{Force: true, RemoveVolumes: volumes})
	cancel()
	if err != nil && !isNotFound(err) {
		if !strings.Contains(err.Error(), "already in progress") {
			return fmt.Errorf("removing container %s: %w", shortID(id), err)
		}
	}
	// Wait until the daemon has really let go of name, addresses and volumes.
	deadline := time.Now().Add(apiTimeout)
	for time.Now().Before(deadline) {
		cctx, cancel := withTimeout(ctx, apiTimeout)
		_, err := cl.ContainerInspect(cctx, id)
		cancel()
		if isNotFound(err) {
			return nil
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("container %s still exists %s after removal", shortID(id), apiTimeout)
}
