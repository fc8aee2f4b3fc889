import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { SpecProblem } from './problems';
import { expectation } from './validate';

/**
 * IPv4 addresses and networks as props give them. Parsed by ipaddr.js, then held to the one
 * canonical spelling: "010.0.0.0/8" is octal 8.0.0.0/8 to inet_aton (and so to pg_hba) but 10/8
 * to a reader; "10.0.0.5/16" has host bits set; "0.0.0.0/00" is the whole internet in disguise.
 * Each is refused with the canonical form in the fix, so what a reviewer reads is what applies.
 */
export interface Ipv4Network {
  /** Canonical "a.b.c.d/p". */
  readonly text: string;
  readonly prefix: number;
  /** The network address as a number, and the number of addresses in it. */
  readonly first: number;
  readonly size: number;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly expected: string; readonly fix: string };

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function toNumber(address: ipaddr.IPv4): number {
  return address.octets.reduce((value, octet) => value * 256 + octet, 0);
}

const LEADING_ZERO = 'a leading zero reads as octal to some tools (010 = 8) and as decimal to others';

/** Four octets 0-255 written with leading zeros ("010.0.0.1"): the decimal spelling, else undefined. */
function withoutLeadingZeros(text: string): string | undefined {
  const match = DOTTED_QUAD.exec(text);
  return match && match.slice(1).every((octet) => Number(octet) <= 255) ? match.slice(1).map(Number).join('.') : undefined;
}

/** A dotted-quad IPv4 address: four decimal octets, no leading zeros, no spaces. */
export function parseIpv4Address(text: string, example = '10.0.0.10'): Parsed<string> {
  const expected = 'an IPv4 address written as four decimal numbers 0-255, e.g. "10.0.0.10"';
  if (DOTTED_QUAD.test(text) && ipaddr.IPv4.isValidFourPartDecimal(text)) return { ok: true, value: text };
  const decimal = withoutLeadingZeros(text);
  return { ok: false, expected, fix: decimal ? `write "${decimal}": ${LEADING_ZERO}` : `write the address as four decimal numbers, e.g. "${example}"` };
}

/** An IPv4 network in canonical CIDR form. */
export function parseIpv4Network(text: string, example = '10.0.0.0/16'): Parsed<Ipv4Network> {
  const expected = 'an IPv4 network "address/prefix" with the network address and a prefix 0-32, e.g. "10.0.0.0/16"';
  const match = /^([^/]*)\/(\d{1,2})$/.exec(text);
  if (!match || Number(match[2]) > 32) return { ok: false, expected, fix: `write the network as address/prefix, e.g. "${example}"` };
  const address = parseIpv4Address(match[1]);
  const prefix = Number(match[2]);
  if (!address.ok) {
    const decimal = withoutLeadingZeros(match[1]);
    return { ok: false, expected, fix: decimal ? `write "${decimal}/${prefix}": ${LEADING_ZERO}` : `write the network as address/prefix, e.g. "${example}"` };
  }
  const size = 2 ** (32 - prefix);
  const value = toNumber(ipaddr.IPv4.parse(address.value));
  const first = value - (value % size);
  const canonical = `${numberToAddress(first)}/${prefix}`;
  if (canonical !== text) {
    const why = first !== value ? `"${text}" has host bits set` : `the prefix is written "/${match[2]}"`;
    return { ok: false, expected, fix: `write "${canonical}" (${why}; the canonical form is what pg_hba and security group rules show)` };
  }
  return { ok: true, value: { text, prefix, first, size } };
}

function numberToAddress(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** A network the spec has already checked: parsed again where a platform computes with it. */
export function parsedNetwork(text: string): Ipv4Network {
  const parsed = parseIpv4Network(text);
  if (!parsed.ok) throw new Error(`${text} was to be a checked network: ${parsed.fix}`);
  return parsed.value;
}

/** The last host number of a network: its last address is the broadcast address. */
export function lastHostNumber(network: Ipv4Network): number {
  return network.size - 2;
}

/** The networks (canonical, parsed) overlap. */
export function overlaps(a: Ipv4Network, b: Ipv4Network): boolean {
  return a.first < b.first + b.size && b.first < a.first + a.size;
}

/** Whether `address` lies in `network`. */
export function contains(network: Ipv4Network, address: string): boolean {
  const value = toNumber(ipaddr.IPv4.parse(address));
  return value >= network.first && value < network.first + network.size;
}

/** Whether the networks together cover every IPv4 address (0.0.0.0/0, or 0.0.0.0/1 with 128.0.0.0/1, ...). */
export function coversEveryAddress(networks: readonly Ipv4Network[]): boolean {
  let reached = 0;
  for (const network of [...networks].sort((a, b) => a.first - b.first)) {
    if (network.first > reached) return false;
    reached = Math.max(reached, network.first + network.size);
  }
  return reached >= 2 ** 32;
}

/** An IPv4 network prop: canonical CIDR. Whether it may be the whole internet is the caller's rule (refuseAnywhere). */
export function ipv4Network(example = '10.0.0.0/16') {
  return z.string(expectation('an IPv4 network such as "10.0.0.0/16"', `write the network as address/prefix, e.g. "${example}"`)).superRefine((value, context) => {
    const parsed = parseIpv4Network(value, example);
    if (!parsed.ok) context.addIssue({ code: 'custom', input: value, message: `${parsed.expected}; fix: ${parsed.fix}` });
  });
}

/** An IPv4 network prop whose prefix must lie in [min, max] (a subnet AWS or Docker accepts); `size` says so. */
export function ipv4NetworkSized(example: string, min: number, max: number, size: { readonly expected: string; readonly fix: string }) {
  return z.string(expectation(`an IPv4 network such as "${example}"`, 'write the network as address/prefix')).superRefine((value, context) => {
    const parsed = parseIpv4Network(value, example);
    if (!parsed.ok) context.addIssue({ code: 'custom', input: value, message: `${parsed.expected}; fix: ${parsed.fix}` });
    else if (parsed.value.prefix < min || parsed.value.prefix > max) context.addIssue({ code: 'custom', input: value, message: `${size.expected}; fix: ${size.fix}` });
  });
}

/** An IPv4 address prop: four decimal octets. */
export function ipv4Address(example = '10.0.0.10') {
  return z.string(expectation('an IPv4 address such as "10.0.0.10"', `write e.g. "${example}"`)).superRefine((value, context) => {
    const parsed = parseIpv4Address(value, example);
    if (!parsed.ok) context.addIssue({ code: 'custom', input: value, message: `${parsed.expected}; fix: ${parsed.fix}` });
  });
}

export const cidr = ipv4Network();

export const cidrList = z.array(cidr, expectation('a list of IPv4 networks', 'pass e.g. ["10.0.0.0/16"]')).default([]);

/**
 * Networks that open a port to every address (one 0.0.0.0/0, or several that together cover the
 * whole IPv4 space) are refused unless `allowField` is set. Entries that are not canonical networks
 * are reported by their own schema.
 */
export function refuseAnywhere(path: string, cidrs: readonly string[], allowed: boolean, allowField: string | undefined, why = 'the networks of the clients only, never the whole internet'): SpecProblem[] {
  if (allowed) return [];
  const networks = cidrs.map((text) => parseIpv4Network(text)).flatMap((parsed) => (parsed.ok ? [parsed.value] : []));
  if (!coversEveryAddress(networks)) return [];
  const widest = networks.reduce((a, b) => (b.size > a.size ? b : a));
  return [
    {
      path: `${path}.${cidrs.indexOf(widest.text)}`,
      given: networks.length === 1 || widest.prefix === 0 ? widest.text : networks.map((n) => n.text),
      expected: `${why}${widest.prefix === 0 ? '' : ' (these networks together cover every IPv4 address)'}`,
      fix: `name the client networks (e.g. "10.0.0.0/16")${allowField ? `, or set ${allowField}: true if you really mean every address` : ''}`,
    },
  ];
}

/** Whether a props value is unresolved Terraform (a cdktf token string): its content is known only at apply. */
export function isTerraformReference(value: string): boolean {
  return /\$\{(Tf)?Token\[/.test(value);
}

/** A canonical IPv4 network. */
export function isIpv4Network(text: string): boolean {
  return parseIpv4Network(text).ok;
}

/** A network of every IPv4 address: 0.0.0.0/0. */
export function isEveryAddress(text: string): boolean {
  const parsed = parseIpv4Network(text);
  return parsed.ok && parsed.value.prefix === 0;
}
