/**
 * AWS region and zone names. A region: "eu-central-1", "us-gov-west-1", "cn-northwest-1",
 * "eusc-de-east-1". A zone: the region and a letter ("eu-central-1a"), or a Local Zone of it
 * ("us-west-2-lax-1a").
 */
const REGION = '[a-z]{2,4}(?:-[a-z]+){1,3}-[1-9][0-9]?';

/** Refuses availability zones ("eu-central-1a"), display names ("Frankfurt") and other spellings. */
export const AWS_REGION_PATTERN = new RegExp(`^${REGION}$`);

const ZONE = new RegExp(`^(${REGION})(?:[a-z]|-[a-z]+-[1-9][0-9]?[a-z])$`);

export const isAvailabilityZone = (name: string): boolean => ZONE.test(name);

/** The region of a zone ("eu-west-1a" and "us-west-2-lax-1a" -> their region), or undefined for a non-zone. */
export function regionOf(zone: string): string | undefined {
  return ZONE.exec(zone)?.[1];
}
