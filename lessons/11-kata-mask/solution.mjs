// The reference assertion: web's packets reach db, db's replies have no way back (db is not on web's network).
export default async function ({ lab, expect }) {
  await expect(lab.get('web')).toReach('10.1.0.200');
}
