import { z } from 'zod';
import { instanceType, port, resourceName, wholeNumber } from './common';
import { cidrList, refuseAnywhere } from './network';
import { CrossFieldRule, validateSpec, OutsideProps } from './validate';

export const prometheusServerSchema = z.object({
  port: port(9090),
  retentionDays: wholeNumber('days', 1, 3650, 15).default(15),
  instanceType: instanceType('t3.medium').default('t3.medium'),
  dataVolumeSizeGiB: wholeNumber('GiB', 1, 16_384, 50).default(50),
  /** Networks that may open the UI and API, which have no authentication. */
  clientCidrs: cidrList,
  name: resourceName.default('monitoring'),
});

export type PrometheusServerSpecInput = z.input<typeof prometheusServerSchema>;
export type PrometheusServerSpec = z.output<typeof prometheusServerSchema>;

const prometheusServerRules: readonly CrossFieldRule<PrometheusServerSpec>[] = [
  {
    // No allow flag: an unauthenticated UI that can delete series is never for every address.
    uses: ['clientCidrs'],
    check: (s) =>
      refuseAnywhere('clientCidrs', s.clientCidrs, false, undefined, "a network of your operators or Grafana: Prometheus' UI and API have no authentication"),
  },
];

/** Validates the settings of a PrometheusServer: defaults applied, every problem listed. */
export function validatePrometheusServerSpec(input: unknown, constructPath?: string, outside?: OutsideProps): PrometheusServerSpec {
  return validateSpec('PrometheusServer spec', prometheusServerSchema, prometheusServerRules, input, constructPath, outside);
}
