// Kata 13, step 1: the netspec assertion that exposes the fault (read the task at the top of script.sh).
// It must fail on the lab as script.sh builds it now, and pass once the lab is repaired.
// `lab.get('name')` is a namespace of the lab (`lab.host` the host); `expect` has netspec's matchers: toReach,
// toRouteVia, toHaveRouteEntry, toHaveAddress, toHaveLink, toHaveArpEntry, toForward (the README has them all).
// Stuck? `npm run lessons -- hint` (or `netspec lessons hint`).
/** @param {{ lab: import('netspec').Lab, expect: (received: unknown) => any }} t */
export default async function ({ lab, expect }) {
  // await expect(lab.get('…')).toReach('…');
}
