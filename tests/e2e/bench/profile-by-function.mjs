// Sums saved CPU profiles (THREADLINE_BENCH_CPUPROFILE_DIR, see cdp.mjs) by function,
// inclusive and self, over the samples that have an extension frame in their stack. With a
// named build of the core (wasm-bindgen without --remove-name-section) the WebAssembly
// frames carry Rust names, so this says which Rust functions the time is spent under.
//
//   node bench/profile-by-function.mjs DIR/thread100-*.cpuprofile [--top=40] [--match=threadline]

import fs from 'node:fs';

import { isExtensionFrame } from './cdp.mjs';

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('--'));
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 40);
const match = args.find((a) => a.startsWith('--match='))?.slice(8) ?? '';

const inclusive = new Map();
const self = new Map();
let extensionMs = 0;
for (const file of files) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = (timeDeltas[i + 1] ?? 0) / 1000 / files.length;
    const stack = [];
    for (let id = samples[i]; id !== undefined; id = parent.get(id)) stack.push(byId.get(id).callFrame);
    if (!stack.some(isExtensionFrame)) continue;
    extensionMs += dt;
    const leaf = stack[0].functionName || '(anonymous)';
    self.set(leaf, (self.get(leaf) ?? 0) + dt);
    for (const name of new Set(stack.map((f) => f.functionName || '(anonymous)'))) {
      inclusive.set(name, (inclusive.get(name) ?? 0) + dt);
    }
  }
}
const short = (name) => name.replace(/\[[0-9a-f]{16}\]/g, '').slice(0, 140);
const print = (title, map) => {
  console.log(`\n${title}`);
  for (const [name, ms] of [...map].filter(([n]) => n.includes(match)).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${ms.toFixed(2).padStart(8)} ms  ${short(name)}`);
  }
};
console.log(`${files.length} profile(s); extension stacks: ${extensionMs.toFixed(1)} ms (mean per profile)`);
print('inclusive (mean ms per profile)', inclusive);
print('self (mean ms per profile)', self);
