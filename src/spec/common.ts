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

/** An IPv4 network in CIDR notation. Whether 0.0.0.0/0 is allowed is the caller's rule. */
export const cidr = z
  .string(expectation('an IPv4 CIDR such as 10.0.0.0/16', 'write the network as address/prefix'))
  .refine(isIpv4Cidr, expectation('an IPv4 CIDR such as 10.0.0.0/16', 'write the network as address/prefix, e.g. 10.20.0.0/16'));

export function isIpv4Cidr(value: string): boolean {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!match) return false;
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  return octets.every((o) => o <= 255) && prefix <= 32;
}

export const ANYWHERE = '0.0.0.0/0';

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

/** An explicit opt-in, off unless set. */
export const optIn = () => z.boolean(expectation('true or false', 'use a boolean')).default(false);

export const cidrList = z.array(cidr, expectation('a list of CIDRs', 'pass e.g. ["10.0.0.0/16"]')).default([]);
