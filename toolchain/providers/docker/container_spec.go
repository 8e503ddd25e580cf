package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/blkiodev"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/strslice"
	"github.com/docker/go-connections/nat"
	"github.com/docker/go-units"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// containerSpec is everything ContainerCreate needs, plus the networks to
// connect after creation (API 1.41 accepts only one endpoint at create).
type containerSpec struct {
	config     *container.Config
	host       *container.HostConfig
	net        *network.NetworkingConfig
	platform   *ocispec.Platform
	laterNets  []ContainerNetworksAdv
	wantsStart bool
}

const mib = 1024 * 1024

// containerSpecFor translates the SDK inputs into Engine API structures.
func containerSpecFor(a ContainerArgs) (containerSpec, error) {
	cfg := &container.Config{
		Image:       a.Image,
		Hostname:    deref(a.Hostname),
		Domainname:  deref(a.Domainname),
		User:        deref(a.User),
		Env:         a.Envs,
		Cmd:         strslice.StrSlice(a.Command),
		Entrypoint:  strslice.StrSlice(a.Entrypoints),
		WorkingDir:  deref(a.WorkingDir),
		Labels:      labelsMap(a.Labels),
		StopSignal:  deref(a.StopSignal),
		StopTimeout: a.StopTimeout,
		Tty:         deref(a.Tty),
		OpenStdin:   deref(a.StdinOpen),
	}
	hc := &container.HostConfig{
		AutoRemove:      deref(a.Rm),
		Privileged:      deref(a.Privileged),
		ReadonlyRootfs:  deref(a.ReadOnly),
		PublishAllPorts: deref(a.PublishAllPorts),
		DNS:             a.Dns,
		DNSOptions:      a.DnsOpts,
		DNSSearch:       a.DnsSearches,
		GroupAdd:        a.GroupAdds,
		SecurityOpt:     a.SecurityOpts,
		StorageOpt:      a.StorageOpts,
		Sysctls:         a.Sysctls,
		Tmpfs:           a.Tmpfs,
		Runtime:         deref(a.Runtime),
		Init:            a.Init,
		IpcMode:         container.IpcMode(deref(a.IpcMode)),
		PidMode:         container.PidMode(deref(a.PidMode)),
		UsernsMode:      container.UsernsMode(deref(a.UsernsMode)),
		CgroupnsMode:    container.CgroupnsMode(deref(a.CgroupnsMode)),
		ShmSize:         int64(deref(a.ShmSize)) * mib,
		LogConfig:       container.LogConfig{Type: deref(a.LogDriver), Config: a.LogOpts},
		RestartPolicy:   restartPolicy(a),
		Resources:       resources(a),
	}
	if a.Capabilities != nil {
		hc.CapAdd = a.Capabilities.Adds
		hc.CapDrop = a.Capabilities.Drops
	}
	for _, h := range a.Hosts {
		hc.ExtraHosts = append(hc.ExtraHosts, h.Host+":"+h.Ip)
	}
	if a.Cpus != nil && *a.Cpus != "" {
		f, err := strconv.ParseFloat(*a.Cpus, 64)
		if err != nil {
			return containerSpec{}, fmt.Errorf("cpus %q: %w", *a.Cpus, err)
		}
		hc.NanoCPUs = int64(f * 1e9)
	}
	if err := addGpus(hc, deref(a.Gpus)); err != nil {
		return containerSpec{}, err
	}

	// Healthcheck.
	if hcIn := a.Healthcheck; hcIn != nil && len(hcIn.Tests) > 0 {
		h := &container.HealthConfig{Test: hcIn.Tests, Retries: deref(hcIn.Retries)}
		var err error
		for _, d := range []struct {
			in  *string
			out *time.Duration
		}{{hcIn.Interval, &h.Interval}, {hcIn.Timeout, &h.Timeout}, {hcIn.StartPeriod, &h.StartPeriod}, {hcIn.StartInterval, &h.StartInterval}} {
			if *d.out, err = parseDuration(d.in); err != nil {
				return containerSpec{}, fmt.Errorf("healthcheck: %w", err)
			}
		}
		cfg.Healthcheck = h
	}

	// Ports.
	if len(a.Ports) > 0 {
		cfg.ExposedPorts = nat.PortSet{}
		hc.PortBindings = nat.PortMap{}
		for _, pt := range a.Ports {
			key := nat.Port(fmt.Sprintf("%d/%s", pt.Internal, derefOr(pt.Protocol, "tcp")))
			cfg.ExposedPorts[key] = struct{}{}
			b := nat.PortBinding{HostIP: derefOr(pt.Ip, "0.0.0.0")}
			if pt.External != nil && *pt.External > 0 {
				b.HostPort = strconv.Itoa(*pt.External)
			}
			hc.PortBindings[key] = append(hc.PortBindings[key], b)
		}
	}

	// Volumes (the SDK's `volumes`) and mounts.
	for _, v := range a.Volumes {
		cpath := deref(v.ContainerPath)
		opts := []string{}
		if deref(v.ReadOnly) {
			opts = append(opts, "ro")
		}
		if r := deref(v.SelinuxRelabel); r != "" {
			opts = append(opts, r)
		}
		suffix := ""
		if len(opts) > 0 {
			suffix = ":" + strings.Join(opts, ",")
		}
		switch {
		case deref(v.FromContainer) != "":
			from := *v.FromContainer
			if deref(v.ReadOnly) {
				from += ":ro"
			}
			hc.VolumesFrom = append(hc.VolumesFrom, from)
		case deref(v.HostPath) != "":
			hc.Binds = append(hc.Binds, *v.HostPath+":"+cpath+suffix)
		case deref(v.VolumeName) != "":
			hc.Binds = append(hc.Binds, *v.VolumeName+":"+cpath+suffix)
		case cpath != "":
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			cfg.Volumes[cpath] = struct{}{}
		default:
			return containerSpec{}, fmt.Errorf("volumes: each entry needs containerPath or fromContainer")
		}
	}
	for _, m := range a.Mounts {
		mm := mount.Mount{Type: mount.Type(m.Type), Source: deref(m.Source), Target: m.Target, ReadOnly: deref(m.ReadOnly)}
		if o := m.BindOptions; o != nil && deref(o.Propagation) != "" {
			mm.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(*o.Propagation)}
		}
		if o := m.VolumeOptions; o != nil {
			mm.VolumeOptions = &mount.VolumeOptions{NoCopy: deref(o.NoCopy), Labels: labelsMap(o.Labels), Subpath: deref(o.Subpath)}
			if deref(o.DriverName) != "" || len(o.DriverOptions) > 0 {
				mm.VolumeOptions.DriverConfig = &mount.Driver{Name: deref(o.DriverName), Options: o.DriverOptions}
			}
		}
		if o := m.TmpfsOptions; o != nil {
			mm.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(deref(o.SizeBytes)), Mode: os.FileMode(deref(o.Mode))}
		}
		hc.Mounts = append(hc.Mounts, mm)
	}

	// Networks: with networksAdvanced and the default mode the container
	// joins only those networks (the first at create, the others before
	// start), like the official provider which leaves the default bridge.
	mode := deref(a.NetworkMode)
	nets := a.NetworksAdvanced
	spec := containerSpec{config: cfg, host: hc, net: &network.NetworkingConfig{}}
	if len(nets) > 0 && (mode == "" || mode == "bridge" || mode == "default") {
		mode = nets[0].Name
		spec.net.EndpointsConfig = map[string]*network.EndpointSettings{nets[0].Name: endpointFor(nets[0])}
		nets = nets[1:]
	}
	hc.NetworkMode = container.NetworkMode(mode)
	spec.laterNets = nets

	if pl := deref(a.Platform); pl != "" {
		parts := strings.SplitN(pl, "/", 3)
		spec.platform = &ocispec.Platform{OS: parts[0]}
		if len(parts) > 1 {
			spec.platform.Architecture = parts[1]
		}
		if len(parts) > 2 {
			spec.platform.Variant = parts[2]
		}
	}
	spec.wantsStart = derefOr(a.Start, true)
	return spec, nil
}

func endpointFor(n ContainerNetworksAdv) *network.EndpointSettings {
	ep := &network.EndpointSettings{Aliases: n.Aliases, MacAddress: deref(n.MacAddress), GwPriority: deref(n.GwPriority)}
	if deref(n.Ipv4Address) != "" || deref(n.Ipv6Address) != "" || len(n.LinkLocalIps) > 0 {
		ep.IPAMConfig = &network.EndpointIPAMConfig{
			IPv4Address: deref(n.Ipv4Address), IPv6Address: deref(n.Ipv6Address), LinkLocalIPs: n.LinkLocalIps,
		}
	}
	for _, o := range n.DriverOpts {
		k, v, _ := strings.Cut(o, "=")
		if ep.DriverOpts == nil {
			ep.DriverOpts = map[string]string{}
		}
		ep.DriverOpts[k] = v
	}
	return ep
}

func restartPolicy(a ContainerArgs) container.RestartPolicy {
	rp := container.RestartPolicy{Name: container.RestartPolicyMode(derefOr(a.Restart, "no"))}
	// The daemon rejects a retry count with any policy but on-failure.
	if rp.Name == container.RestartPolicyOnFailure {
		rp.MaximumRetryCount = deref(a.MaxRetryCount)
	}
	return rp
}

// resources are the cgroup settings; the same values are used by Update.
func resources(a ContainerArgs) container.Resources {
	r := container.Resources{
		CPUShares:         int64(deref(a.CpuShares)),
		CPUPeriod:         int64(deref(a.CpuPeriod)),
		CPUQuota:          int64(deref(a.CpuQuota)),
		CpusetCpus:        deref(a.CpuSet),
		CgroupParent:      deref(a.CgroupParent),
		Memory:            int64(deref(a.Memory)) * mib,
		MemoryReservation: int64(deref(a.MemoryReservation)) * mib,
		DeviceCgroupRules: a.DeviceCgroupRules,
	}
	if s := int64(deref(a.MemorySwap)); s > 0 {
		r.MemorySwap = s * mib
	} else {
		r.MemorySwap = s // 0 (unset) or -1 (unlimited)
	}
	for _, u := range a.Ulimits {
		r.Ulimits = append(r.Ulimits, &units.Ulimit{Name: u.Name, Soft: int64(u.Soft), Hard: int64(u.Hard)})
	}
	for _, d := range a.Devices {
		r.Devices = append(r.Devices, container.DeviceMapping{
			PathOnHost: d.HostPath, PathInContainer: derefOr(d.ContainerPath, d.HostPath), CgroupPermissions: derefOr(d.Permissions, "rwm"),
		})
	}
	throttle := func(in []ContainerDeviceRate) []*blkiodev.ThrottleDevice {
		var out []*blkiodev.ThrottleDevice
		for _, d := range in {
			out = append(out, &blkiodev.ThrottleDevice{Path: d.Path, Rate: uint64(d.Rate)})
		}
		return out
	}
	r.BlkioDeviceReadBps = throttle(a.DeviceReadBps)
	r.BlkioDeviceReadIOps = throttle(a.DeviceReadIops)
	r.BlkioDeviceWriteBps = throttle(a.DeviceWriteBps)
	r.BlkioDeviceWriteIOps = throttle(a.DeviceWriteIops)
	for _, d := range a.DeviceRequests {
		dr := container.DeviceRequest{Driver: deref(d.Driver), Count: deref(d.Count), DeviceIDs: d.DeviceIds, Options: d.Options}
		if len(d.Capabilities) > 0 {
			dr.Capabilities = [][]string{d.Capabilities}
		}
		r.DeviceRequests = append(r.DeviceRequests, dr)
	}
	return r
}

// addGpus maps `gpus` ("all" or "device=0,2") to a device request, as
// `docker run --gpus` does.
func addGpus(hc *container.HostConfig, gpus string) error {
	if gpus == "" {
		return nil
	}
	dr := container.DeviceRequest{Capabilities: [][]string{{"gpu"}}}
	switch {
	case gpus == "all":
		dr.Count = -1
	case strings.HasPrefix(gpus, "device="):
		dr.DeviceIDs = strings.Split(strings.TrimPrefix(gpus, "device="), ",")
	default:
		n, err := strconv.Atoi(gpus)
		if err != nil {
			return fmt.Errorf("gpus %q: expected all, device=<ids> or a count", gpus)
		}
		dr.Count = n
	}
	hc.DeviceRequests = append(hc.DeviceRequests, dr)
	return nil
}

func parseDuration(s *string) (time.Duration, error) {
	if s == nil || *s == "" {
		return 0, nil
	}
	return time.ParseDuration(*s)
}
