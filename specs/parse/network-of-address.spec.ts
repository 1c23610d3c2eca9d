// networkOfAddress (exported beside parseCidr and contains; the lessons name a learner's network with it): the network
// of an address with a prefix length, both families; anything else is a typed error naming the input, never a
// TypeError or a made-up network.
import { describe, expect, test } from 'vitest';
import { InvalidInputError, networkOfAddress } from '../../src/index.js';

describe('networkOfAddress', () => {
  test('the network, host bits cleared, in the prefix length given', () => {
    expect(networkOfAddress('10.1.0.200/25')).toBe('10.1.0.128/25');
    expect(networkOfAddress('192.168.15.3/32')).toBe('192.168.15.3/32');
    expect(networkOfAddress('192.168.15.3/16')).toBe('192.168.0.0/16');
    expect(networkOfAddress('2001:DB8::1/64')).toBe('2001:db8::/64');
    expect(networkOfAddress('10.1.0.200/0')).toBe('0.0.0.0/0');
  });
  test('hostile and odd input: an InvalidInputError naming the input', () => {
    for (const bad of ['a; rm -rf /', '10.1.0.200', '010.1.0.200/25', '10.1.0.200/33', '10.1.0.200/-1', '\0', '', null, undefined, 42, { address: 'x' }, ['10.0.0.1/8']]) {
      expect(() => networkOfAddress(bad, 'the address'), JSON.stringify(bad)).toThrow(InvalidInputError);
      expect(() => networkOfAddress(bad, 'the address')).toThrow(/the address/);
    }
  });
});
