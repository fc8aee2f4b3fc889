import { z } from 'zod';
import { expectation } from './validate';

/** A TCP port a service listens on, defaulting to `defaultPort`. */
export function port(defaultPort: number) {
  return optionalPort(defaultPort).default(defaultPort);
}

/** A TCP port with no default. Privileged ports are refused: our services do not run as root. */
export function optionalPort(example: number) {
  return z
    .number(expectation('an integer port', `use a port number such as ${example}`))
    .int(expectation('an integer port', `use a whole number such as ${example}`))
    .min(1024, expectation('a port from 1024 to 65535', `use an unprivileged port such as ${example}`))
    .max(65535, expectation('a port from 1024 to 65535', `use a port such as ${example}`));
}

/** A name used in resource names, host names and Patroni's scope. */
export const resourceName = z
  .string(expectation('a name', 'give a name such as "main"'))
  .regex(
    /^[a-z][a-z0-9-]{0,23}[a-z0-9]$|^[a-z]$/,
    expectation(
      '1-25 characters: lower-case letters, digits and "-", starting with a letter',
      'use a short DNS-safe name such as "orders-db"',
    ),
  );

export function positiveSeconds(what: string, example: number) {
  return z
    .number(expectation(`${what} in whole seconds`, `use a number such as ${example}`))
    .int(expectation(`${what} in whole seconds`, `use a whole number such as ${example}`))
    .min(1, expectation(`${what} of at least 1 second`, `use a number such as ${example}`));
}

/** A whole number of `what` between min and max. */
export function wholeNumber(what: string, min: number, max: number, example: number) {
  return z
    .number(expectation(`a whole number of ${what}`, `use a number such as ${example}`))
    .int(expectation(`a whole number of ${what}`, `use a number such as ${example}`))
    .min(min, expectation(`at least ${min} ${what}`, `use ${Math.max(min, example)} or more`))
    .max(max, expectation(`at most ${max} ${what}`, `use ${max} or fewer`));
}

/** A whole number from min to max that is not a count of something (a host number, an octet): `what` names it. */
export function integerFrom(what: string, min: number, max: number, example: number) {
  const expected = `${what}: a whole number from ${min} to ${max}`;
  return z
    .number(expectation(expected, `use e.g. ${example}`))
    .int(expectation(expected, `use e.g. ${example}`))
    .min(min, expectation(expected, `use e.g. ${example}`))
    .max(max, expectation(expected, `use e.g. ${example}`));
}

/** An explicit opt-in, off unless set. */
export const optIn = () => z.boolean(expectation('true or false', 'use a boolean')).default(false);

/** An EC2 instance type ("family.size"); other platforms ignore it. */
export function instanceType(example: string) {
  return z
    .string(expectation('an EC2 instance type', `use e.g. "${example}"`))
    .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, expectation(`an EC2 instance type such as "${example}"`, `write family.size, e.g. "${example}" or "m6i.large"`));
}

/** Size of a node's data volume in GiB (EBS gp3 allows 1 to 16,384). */
export function volumeSizeGiB(example: number) {
  return wholeNumber('GiB', 1, 16_384, example);
}

/** Props of a construct's machines, kept outside its spec (validated with propProblems). */
export const nodeSizeShape = {
  instanceType: instanceType('m6i.large').optional(),
  dataVolumeSizeGiB: volumeSizeGiB(100).optional(),
};
