/** Where a node will be, known before any resource exists so that configs can name their peers. */
export interface NodePlacement {
  readonly name: string;
  readonly address: string;
  /** Availability zone, when the platform knows it at synth time. */
  readonly zone?: string;
  /** The network the node's address is in (its subnet), for pg_hba and client rules. */
  readonly network: string;
}
