import { createLab } from '/work/wt-trust-input/src/index.js';
await using lab = await createLab();
const r = await lab.netns('red');
const run = async (argv: string[]) => { const x = await r.exec(argv[0]!, argv.slice(1), { reject: false }); return x; };
for (const a of [
  ['ip','link','add','a\x1bb','type','veth','peer','name','p\x01q'],
  ['ip','link','add','v0','type','veth','peer','name','v1'],
  ['ip','link','set','v0','alias','x\x01y\nz"q\\\x7f\u00e9'],
  ['ip','addr','add','10.9.0.1/24','dev','a\x1bb','label','a\x1bb'],
  ['iptables','-t','nat','-A','PREROUTING','-m','comment','--comment','hello\n-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.9','-j','ACCEPT'],
  ['iptables','-t','nat','-A','PREROUTING','-m','comment','--comment','a "quoted" \\ back','-j','ACCEPT'],
  ['iptables','-t','nat','-A','PREROUTING','-m','comment','--comment','esc\x1b[31mred','-j','ACCEPT'],
  ['nft','add','table','ip','t'],
  ['nft','add','chain','ip','t','c','{ type filter hook input priority 0; }'],
  ['nft','add','rule','ip','t','c','counter','comment','"x\x1by"'],
]) { const x = await run(a); console.log(a.join(' ').replace(/[\x00-\x1f]/g, '?'), x.exitCode, x.stderr); }
console.log(JSON.stringify((await run(['ip','-json','link','show'])).stdout));
console.log(JSON.stringify((await run(['ip','-json','addr','show'])).stdout));
console.log(JSON.stringify((await run(['iptables-save','-c'])).stdout));
console.log(JSON.stringify((await run(['nft','-j','list','ruleset'])).stdout));
console.log(JSON.stringify((await run(['ip','-json','rule','show', 'uidrange', '100-200'])).stderr));
