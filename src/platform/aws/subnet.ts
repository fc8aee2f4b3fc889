/** A subnet nodes can be placed in. Its CIDR and zone must be known at synth time: nodes get fixed addresses in it. */
export interface AwsSubnet {
  readonly subnetId: string;
  readonly availabilityZone: string;
  /** e.g. "10.40.1.0/24" */
  readonly cidrBlock: string;
}
