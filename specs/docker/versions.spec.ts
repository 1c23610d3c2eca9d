// `version` as users name it (issue 24): what `docker version` prints, mapped to the layout of its release range; a
// release whose layout is not emulated, or an unknown one, is a typed error that lists the ranges.
import { describe, expect, test } from '../../src/vitest.js';
import { InvalidInputError } from '../../src/errors.js';
import { dockerHost, resolveVersion } from '../../fixtures/index.js';

describe('resolveVersion', () => {
  test.for([
    ['20.10', '20.10'],
    ['classic', '20.10'],
    ['20.10.24', '20.10'],
    ['20.10.24+dfsg1', '20.10'], // Debian's docker.io prints its package suffix
    ['25', '25'],
    ['25.0.5', '25'],
    ['26.1', '25'], // the real 26.1.5 engine writes 25's rules
    ['26.1.5', '25'],
    ['28.2.2', '28'],
    ['28.5.2', '28'],
    ['v28.5', '28'],
    ['29.7.2', '29'],
    ['29', '29'],
  ] as const)('%s → the %s layout', ([version, layout]) => {
    expect(resolveVersion(version)).toEqual({ layout });
  });

  test.for([
    ['28.0.0', /28\.0\.0 is not emulated \(an ipset/],
    ['28.1.1', /28\.0\.1–28\.1\.1 is not emulated \(direct access dropped per published port\)/],
    ['28.2.1', /28\.2\.0–28\.2\.1 is not emulated/],
    ['28.2', /the patches of 28\.2 write different rules: give the patch/],
    ['27.3.1', /^27\.x is not emulated/],
    ['24.0.7', /^23\.x–24\.x is not emulated/],
    ['19.03.15', /no layout for that release/],
    ['latest', /expected a layout/],
  ] as const)('%s is refused with the ranges listed', ([version, why]) => {
    const { layout, error } = resolveVersion(version);
    expect(layout).toBeUndefined();
    expect(error).toMatch(why);
    expect(error).toContain('20.10.x → the 20.10 layout; ');
    expect(error).toContain('28.2.2–28.x → the 28 layout; 29.x → the 29 layout');
  });
});

test('dockerHost takes a release: its layout, and the version as given', async ({ lab }) => {
  const docker = await dockerHost(lab, { version: '26.1.5' });
  expect(docker.layout.version).toBe('25');
  expect(docker.version).toBe('26.1.5');
  const c = await docker.run('c1');
  expect(c.mac).toBe('02:42:ac:11:00:02'); // 26.x: the 02:42 + IPv4 MAC (the real 26.1.5 engine)
  const refused = await dockerHost(lab, { version: '28.1.1' }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(InvalidInputError);
  expect((refused as InvalidInputError).input).toBe('docker version');
});
