/** IPv4 arithmetic for placing nodes at fixed addresses inside a subnet. */

export function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

export function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** The `index`-th host address of `cidr` (index 0 is the network address). */
export function hostAddress(cidr: string, index: number): string {
  const [network, prefixText] = cidr.split('/');
  const size = 2 ** (32 - Number(prefixText));
  // The last address is broadcast; on AWS the first four are reserved too (checked by the platform).
  if (index < 1 || index >= size - 1) {
    throw new Error(`Subnet ${cidr} has no host number ${index}: it holds hosts 1 to ${size - 2}. Use a larger subnet.`);
  }
  const base = ipv4ToNumber(network) - (ipv4ToNumber(network) % size);
  return numberToIpv4(base + index);
}

/** The `index`-th subnet of size `/newPrefix` inside `cidr`. */
export function subnetCidr(cidr: string, newPrefix: number, index: number): string {
  const [network, prefixText] = cidr.split('/');
  const prefix = Number(prefixText);
  const count = 2 ** (newPrefix - prefix);
  if (newPrefix < prefix || index < 0 || index >= count) {
    throw new Error(`${cidr} has no /${newPrefix} subnet number ${index} (it holds ${Math.max(0, count)}).`);
  }
  const size = 2 ** (32 - prefix);
  const base = ipv4ToNumber(network) - (ipv4ToNumber(network) % size);
  return `${numberToIpv4(base + index * 2 ** (32 - newPrefix))}/${newPrefix}`;
}
