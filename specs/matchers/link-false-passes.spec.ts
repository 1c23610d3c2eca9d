// Regressions of an adversarial pass over toHaveLink: each case passed where the kernel's state said it should fail,
// or gave a verdict where netspec could not read what it asserts about. Real labs, real links, no mocks.
import { describe, expect, test } from '../../src/vitest.js';
import { InvalidInputError, type Lab, type Netns } from '../../src/index.js';

/** red and blue on one veth (10.1.0.1/24 – 10.1.0.2/24); blue's end starts down, so red's has no carrier. */
async function pair(lab: Lab): Promise<{ red: Netns; blue: Netns }> {
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  await lab.veth({ ns: red, name: 'eth0', address: '10.1.0.1/24' }, { ns: blue, name: 'eth0', address: '10.1.0.2/24', up: false });
  return { red, blue };
}

const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('toHaveLink: no vacuous .not', () => {
  test('a state that is no operstate is an InvalidInputError, not a .not that passes whatever the state', async ({ lab }) => {
    const { red } = await pair(lab);
    for (const state of ['UPP', 'LOWER_UP', 'NO_CARRIER', 'ACTIVE']) {
      const error = await errorOf(expect(red).not.toHaveLink('eth0', { state }));
      expect(error, state).toBeInstanceOf(InvalidInputError);
      expect(String(error)).toMatch(new RegExp(`invalid state "${state}": expected an operstate as ip prints it: UP, DOWN, UNKNOWN, LOWERLAYERDOWN, DORMANT, TESTING, NOTPRESENT`));
    }
    // every real one still works, both ways
    await expect(red).toHaveLink('eth0', { state: 'DOWN' });
    await expect(red).not.toHaveLink('eth0', { state: 'UP' });
    await expect(red).toHaveLink('lo', { state: 'UNKNOWN' });
  });
});
