// The reference assertion: http from the LAN to web; the kernel's trace names the rule that drops it.
export default async function ({ lab, expect }) {
  await expect(lab.get('red')).toReach({ address: '10.0.2.2', port: 80 });
}
