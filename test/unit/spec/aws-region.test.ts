import { AWS_REGION_PATTERN, isAvailabilityZone, regionOf } from '../../../src/spec/aws-region';

describe('AWS region and zone names', () => {
  test.each([
    ['eu-west-1a', 'eu-west-1'],
    ['us-gov-west-1b', 'us-gov-west-1'],
    ['cn-northwest-1a', 'cn-northwest-1'],
    ['eusc-de-east-1a', 'eusc-de-east-1'],
    ['ap-southeast-5c', 'ap-southeast-5'],
    ['us-west-2-lax-1a', 'us-west-2'],
    ['us-east-1-bos-1a', 'us-east-1'],
  ])('%s is a zone of %s', (zone, region) => {
    expect(isAvailabilityZone(zone)).toBe(true);
    expect(regionOf(zone)).toBe(region);
    expect(AWS_REGION_PATTERN.test(region)).toBe(true);
    expect(AWS_REGION_PATTERN.test(zone)).toBe(false);
  });

  test.each(['eu-west-1', 'Frankfurt', 'eu-west-1A', 'euw1-az1', '', 'eu-west-1ab'])('%j is no zone', (name) => {
    expect(isAvailabilityZone(name)).toBe(false);
    expect(regionOf(name)).toBeUndefined();
  });
});
