// LabNetwork: the Docker network the three servers share, with the subnet and
// gateway of the stack's configuration. The gateway is the Docker host's own
// address on it: the engine's providers reach the containers from there.
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { STACK_LABEL } from "./targets/docker";

export interface LabNetworkArgs {
  /** The network's name. */
  readonly name: string;
  /** IPv4 subnet, e.g. "192.168.100.0/24". */
  readonly subnet: string;
  /** Its gateway, the subnet's first address. */
  readonly gateway: string;
}

export class LabNetwork extends pulumi.ComponentResource {
  /** The Docker network's name (what containers attach to). */
  readonly name: pulumi.Output<string>;
  readonly subnet: pulumi.Output<string>;
  readonly gateway: pulumi.Output<string>;

  constructor(name: string, args: LabNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mail-system:index:LabNetwork", name, {}, opts);
    const network = new docker.Network(
      name,
      {
        name: args.name,
        ipamConfigs: [{ subnet: args.subnet, gateway: args.gateway }],
        labels: [{ label: STACK_LABEL, value: args.name }],
      },
      { parent: this },
    );
    this.name = network.name;
    this.subnet = pulumi.output(args.subnet);
    this.gateway = pulumi.output(args.gateway);
    this.registerOutputs({ name: this.name, subnet: this.subnet, gateway: this.gateway });
  }
}
