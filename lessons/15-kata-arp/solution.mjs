// The reference assertion: red reaches its gateway (the diagnosis shows the neighbor entry red uses for it).
export default async function ({ lab, expect }) {
  await expect(lab.get('red')).toReach('192.168.15.3');
}
