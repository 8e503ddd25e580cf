package main

import "github.com/pulumi/pulumi-go-provider/infer"

// ContainerArgs are the inputs of `docker:index/container:Container`, named
// exactly as in the npm SDK 5.2.0 (ContainerArgs in container.d.ts).
type ContainerArgs struct {
	Image string  `pulumi:"image"`
	Name  *string `pulumi:"name,optional"`

	Attach                                  *bool                    `pulumi:"attach,optional"`
	Capabilities                            *ContainerCapabilities   `pulumi:"capabilities,optional"`
	CgroupParent                            *string                  `pulumi:"cgroupParent,optional"`
	CgroupnsMode                            *string                  `pulumi:"cgroupnsMode,optional"`
	Command                                 []string                 `pulumi:"command,optional"`
	ContainerReadRefreshTimeoutMilliseconds *int                     `pulumi:"containerReadRefreshTimeoutMilliseconds,optional"`
	CpuPeriod                               *int                     `pulumi:"cpuPeriod,optional"`
	CpuQuota                                *int                     `pulumi:"cpuQuota,optional"`
	CpuSet                                  *string                  `pulumi:"cpuSet,optional"`
	CpuShares                               *int                     `pulumi:"cpuShares,optional"`
	Cpus                                    *string                  `pulumi:"cpus,optional"`
	DestroyGraceSeconds                     *int                     `pulumi:"destroyGraceSeconds,optional"`
	DeviceCgroupRules                       []string                 `pulumi:"deviceCgroupRules,optional"`
	DeviceReadBps                           []ContainerDeviceRate    `pulumi:"deviceReadBps,optional"`
	DeviceReadIops                          []ContainerDeviceRate    `pulumi:"deviceReadIops,optional"`
	DeviceRequests                          []ContainerDeviceRequest `pulumi:"deviceRequests,optional"`
	DeviceWriteBps                          []ContainerDeviceRate    `pulumi:"deviceWriteBps,optional"`
	DeviceWriteIops                         []ContainerDeviceRate    `pulumi:"deviceWriteIops,optional"`
	Devices                                 []ContainerDevice        `pulumi:"devices,optional"`
	Dns                                     []string                 `pulumi:"dns,optional"`
	DnsOpts                                 []string                 `pulumi:"dnsOpts,optional"`
	DnsSearches                             []string                 `pulumi:"dnsSearches,optional"`
	Domainname                              *string                  `pulumi:"domainname,optional"`
	Entrypoints                             []string                 `pulumi:"entrypoints,optional"`
	Envs                                    []string                 `pulumi:"envs,optional"`
	Gpus                                    *string                  `pulumi:"gpus,optional"`
	GroupAdds                               []string                 `pulumi:"groupAdds,optional"`
	Healthcheck                             *ContainerHealthcheck    `pulumi:"healthcheck,optional"`
	Hostname                                *string                  `pulumi:"hostname,optional"`
	Hosts                                   []ContainerHost          `pulumi:"hosts,optional"`
	Init                                    *bool                    `pulumi:"init,optional"`
	IpcMode                                 *string                  `pulumi:"ipcMode,optional"`
	Labels                                  []Label                  `pulumi:"labels,optional"`
	LogDriver                               *string                  `pulumi:"logDriver,optional"`
	LogOpts                                 map[string]string        `pulumi:"logOpts,optional"`
	Logs                                    *bool                    `pulumi:"logs,optional"`
	MaxRetryCount                           *int                     `pulumi:"maxRetryCount,optional"`
	Memory                                  *int                     `pulumi:"memory,optional"`
	MemoryReservation                       *int                     `pulumi:"memoryReservation,optional"`
	MemorySwap                              *int                     `pulumi:"memorySwap,optional"`
	Mounts                                  []ContainerMount         `pulumi:"mounts,optional"`
	MustRun                                 *bool                    `pulumi:"mustRun,optional"`
	NetworkMode                             *string                  `pulumi:"networkMode,optional"`
	NetworksAdvanced                        []ContainerNetworksAdv   `pulumi:"networksAdvanced,optional"`
	PidMode                                 *string                  `pulumi:"pidMode,optional"`
	Platform                                *string                  `pulumi:"platform,optional"`
	Ports                                   []ContainerPort          `pulumi:"ports,optional"`
	Privileged                              *bool                    `pulumi:"privileged,optional"`
	PublishAllPorts                         *bool                    `pulumi:"publishAllPorts,optional"`
	ReadOnly                                *bool                    `pulumi:"readOnly,optional"`
	RemoveVolumes                           *bool                    `pulumi:"removeVolumes,optional"`
	Restart                                 *string                  `pulumi:"restart,optional"`
	Rm                                      *bool                    `pulumi:"rm,optional"`
	Runtime                                 *string                  `pulumi:"runtime,optional"`
	SecurityOpts                            []string                 `pulumi:"securityOpts,optional"`
	ShmSize                                 *int                     `pulumi:"shmSize,optional"`
	Start                                   *bool                    `pulumi:"start,optional"`
	StdinOpen                               *bool                    `pulumi:"stdinOpen,optional"`
	StopSignal                              *string                  `pulumi:"stopSignal,optional"`
	StopTimeout                             *int                     `pulumi:"stopTimeout,optional"`
	StorageOpts                             map[string]string        `pulumi:"storageOpts,optional"`
	Sysctls                                 map[string]string        `pulumi:"sysctls,optional"`
	Tmpfs                                   map[string]string        `pulumi:"tmpfs,optional"`
	Tty                                     *bool                    `pulumi:"tty,optional"`
	Ulimits                                 []ContainerUlimit        `pulumi:"ulimits,optional"`
	Uploads                                 []ContainerUpload        `pulumi:"uploads,optional"`
	User                                    *string                  `pulumi:"user,optional"`
	UsernsMode                              *string                  `pulumi:"usernsMode,optional"`
	Volumes                                 []ContainerVolume        `pulumi:"volumes,optional"`
	Wait                                    *bool                    `pulumi:"wait,optional"`
	WaitTimeout                             *int                     `pulumi:"waitTimeout,optional"`
	WorkingDir                              *string                  `pulumi:"workingDir,optional"`
}

// ContainerState is the recorded state: the inputs plus computed outputs.
type ContainerState struct {
	ContainerArgs
	Bridge        string                 `pulumi:"bridge"`
	ContainerLogs *string                `pulumi:"containerLogs,optional"`
	ExitCode      *int                   `pulumi:"exitCode,optional"`
	NetworkDatas  []ContainerNetworkData `pulumi:"networkDatas"`
}

type ContainerCapabilities struct {
	Adds  []string `pulumi:"adds,optional"`
	Drops []string `pulumi:"drops,optional"`
}

type ContainerDeviceRate struct {
	Path string `pulumi:"path"`
	Rate int    `pulumi:"rate"`
}

type ContainerDeviceRequest struct {
	Capabilities []string          `pulumi:"capabilities,optional"`
	Count        *int              `pulumi:"count,optional"`
	DeviceIds    []string          `pulumi:"deviceIds,optional"`
	Driver       *string           `pulumi:"driver,optional"`
	Options      map[string]string `pulumi:"options,optional"`
}

type ContainerDevice struct {
	HostPath      string  `pulumi:"hostPath"`
	ContainerPath *string `pulumi:"containerPath,optional"`
	Permissions   *string `pulumi:"permissions,optional"`
}

type ContainerHealthcheck struct {
	Tests         []string `pulumi:"tests,optional"`
	Interval      *string  `pulumi:"interval,optional"`
	Timeout       *string  `pulumi:"timeout,optional"`
	StartPeriod   *string  `pulumi:"startPeriod,optional"`
	StartInterval *string  `pulumi:"startInterval,optional"`
	Retries       *int     `pulumi:"retries,optional"`
}

type ContainerHost struct {
	Host string `pulumi:"host"`
	Ip   string `pulumi:"ip"`
}

type ContainerMount struct {
	Target        string                       `pulumi:"target"`
	Type          string                       `pulumi:"type"`
	Source        *string                      `pulumi:"source,optional"`
	ReadOnly      *bool                        `pulumi:"readOnly,optional"`
	BindOptions   *ContainerMountBindOptions   `pulumi:"bindOptions,optional"`
	TmpfsOptions  *ContainerMountTmpfsOptions  `pulumi:"tmpfsOptions,optional"`
	VolumeOptions *ContainerMountVolumeOptions `pulumi:"volumeOptions,optional"`
}

type ContainerMountBindOptions struct {
	Propagation *string `pulumi:"propagation,optional"`
}

type ContainerMountTmpfsOptions struct {
	Mode      *int `pulumi:"mode,optional"`
	SizeBytes *int `pulumi:"sizeBytes,optional"`
}

type ContainerMountVolumeOptions struct {
	DriverName    *string           `pulumi:"driverName,optional"`
	DriverOptions map[string]string `pulumi:"driverOptions,optional"`
	Labels        []Label           `pulumi:"labels,optional"`
	NoCopy        *bool             `pulumi:"noCopy,optional"`
	Subpath       *string           `pulumi:"subpath,optional"`
}

type ContainerNetworksAdv struct {
	Name         string   `pulumi:"name"`
	Aliases      []string `pulumi:"aliases,optional"`
	DriverOpts   []string `pulumi:"driverOpts,optional"`
	GwPriority   *int     `pulumi:"gwPriority,optional"`
	Ipv4Address  *string  `pulumi:"ipv4Address,optional"`
	Ipv6Address  *string  `pulumi:"ipv6Address,optional"`
	LinkLocalIps []string `pulumi:"linkLocalIps,optional"`
	MacAddress   *string  `pulumi:"macAddress,optional"`
}

type ContainerNetworkData struct {
	NetworkName            string `pulumi:"networkName"`
	IpAddress              string `pulumi:"ipAddress"`
	IpPrefixLength         int    `pulumi:"ipPrefixLength"`
	Gateway                string `pulumi:"gateway"`
	GlobalIpv6Address      string `pulumi:"globalIpv6Address"`
	GlobalIpv6PrefixLength int    `pulumi:"globalIpv6PrefixLength"`
	Ipv6Gateway            string `pulumi:"ipv6Gateway"`
	MacAddress             string `pulumi:"macAddress"`
}

type ContainerPort struct {
	Internal int     `pulumi:"internal"`
	External *int    `pulumi:"external,optional"`
	Ip       *string `pulumi:"ip,optional"`
	Protocol *string `pulumi:"protocol,optional"`
}

type ContainerUlimit struct {
	Name string `pulumi:"name"`
	Soft int    `pulumi:"soft"`
	Hard int    `pulumi:"hard"`
}

type ContainerUpload struct {
	File          string  `pulumi:"file"`
	Content       *string `pulumi:"content,optional"`
	ContentBase64 *string `pulumi:"contentBase64,optional"`
	Source        *string `pulumi:"source,optional"`
	SourceHash    *string `pulumi:"sourceHash,optional"`
	Executable    *bool   `pulumi:"executable,optional"`
	Permissions   *string `pulumi:"permissions,optional"`
	Owner         *string `pulumi:"owner,optional"`
	Group         *string `pulumi:"group,optional"`
}

type ContainerVolume struct {
	ContainerPath  *string `pulumi:"containerPath,optional"`
	FromContainer  *string `pulumi:"fromContainer,optional"`
	HostPath       *string `pulumi:"hostPath,optional"`
	ReadOnly       *bool   `pulumi:"readOnly,optional"`
	SelinuxRelabel *string `pulumi:"selinuxRelabel,optional"`
	VolumeName     *string `pulumi:"volumeName,optional"`
}

func (c *Container) Annotate(a infer.Annotator) {
	a.SetToken("index/container", "Container")
	a.Describe(c, "Manages the lifecycle of a Docker container.")
}

func (a *ContainerArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.Image, "The image to back this container: a name or an image ID (sha256:...).")
	an.Describe(&a.Name, "The name of the container (auto-named if omitted).")
	an.Describe(&a.Attach, "If true attach to the container after its creation and wait for the end of its execution.")
	an.SetDefault(&a.Attach, false)
	an.Describe(&a.Logs, "Save the container logs (attach must be enabled).")
	an.SetDefault(&a.Logs, false)
	an.Describe(&a.MustRun, "If true, the container must be running. A stopped container is recreated by the next update after a refresh.")
	an.SetDefault(&a.MustRun, true)
	an.Describe(&a.Start, "If true, the container is started after creation.")
	an.SetDefault(&a.Start, true)
	an.Describe(&a.Rm, "If true, the container is removed automatically when it exits.")
	an.SetDefault(&a.Rm, false)
	an.Describe(&a.ReadOnly, "If true, the container's root filesystem is read-only.")
	an.SetDefault(&a.ReadOnly, false)
	an.Describe(&a.RemoveVolumes, "If true, anonymous volumes of the container are removed with it.")
	an.SetDefault(&a.RemoveVolumes, true)
	an.Describe(&a.Restart, "The restart policy: no, on-failure, always or unless-stopped.")
	an.SetDefault(&a.Restart, "no")
	an.Describe(&a.Wait, "If true, wait until the container's healthcheck reports healthy after creation.")
	an.SetDefault(&a.Wait, false)
	an.Describe(&a.WaitTimeout, "Seconds to wait for the container to become healthy.")
	an.SetDefault(&a.WaitTimeout, 60)
	an.SetDefault(&a.Tty, false)
	an.SetDefault(&a.StdinOpen, false)
	an.SetDefault(&a.ContainerReadRefreshTimeoutMilliseconds, 15000)
	an.Describe(&a.NetworkMode, "Network mode of the container. Defaults to bridge (with networksAdvanced, the container joins only those networks).")
	an.SetDefault(&a.NetworkMode, "bridge")
	an.Describe(&a.Envs, "Environment variables in the form KEY=VALUE.")
	an.Describe(&a.Uploads, "Files to upload into the container before it starts.")
	an.Describe(&a.DestroyGraceSeconds, "Seconds to let the container stop gracefully before it is removed.")
	an.Describe(&a.Memory, "The memory limit for the container in MBs.")
	an.Describe(&a.ShmSize, "Size of /dev/shm in MBs.")
}

func (s *ContainerState) Annotate(a infer.Annotator) {
	a.Describe(&s.Bridge, "The network bridge of the container as read from its NetworkSettings.")
	a.Describe(&s.ContainerLogs, "The logs of the container if attach and logs are enabled.")
	a.Describe(&s.ExitCode, "The exit code of the container if it is not running.")
	a.Describe(&s.NetworkDatas, "The data of the networks the container is connected to.")
}

func (p *ContainerPort) Annotate(a infer.Annotator) {
	a.SetDefault(&p.Ip, "0.0.0.0")
	a.SetDefault(&p.Protocol, "tcp")
}

// WireDependencies tells previews which outputs an in-place update can
// change, so that unrelated outputs (e.g. networkDatas when only `restart`
// changes) stay known and dependents are not shown as replaced.
func (*Container) WireDependencies(f infer.FieldSelector, args *ContainerArgs, state *ContainerState) {
	lifecycle := []infer.InputField{f.InputField(&args.Start).Computed(), f.InputField(&args.MustRun).Computed()}
	with := func(more ...infer.InputField) []infer.InputField {
		return append(append([]infer.InputField{}, lifecycle...), more...)
	}
	net := with(f.InputField(&args.NetworksAdvanced).Computed(), f.InputField(&args.NetworkMode).Computed())
	f.OutputField(&state.NetworkDatas).DependsOn(net...)
	f.OutputField(&state.Bridge).DependsOn(net...)
	f.OutputField(&state.Ports).DependsOn(with(f.InputField(&args.Ports).Computed())...)
	run := with(f.InputField(&args.Attach).Computed(), f.InputField(&args.Logs).Computed())
	f.OutputField(&state.ExitCode).DependsOn(run...)
	f.OutputField(&state.ContainerLogs).DependsOn(run...)
}
