// The reference assertion: red's packets get out, but the Internet has no way back to 192.168.15.1 (no NAT covers it).
export default async function ({ lab, expect }) {
  await expect(lab.get('red')).toReach('203.0.113.8');
}
