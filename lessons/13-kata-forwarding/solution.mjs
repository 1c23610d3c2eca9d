// The reference assertion: red's packets reach the host, which does not pass them on (ip_forward is off there).
export default async function ({ lab, expect }) {
  await expect(lab.get('red')).toReach('10.0.2.2');
}
