// Target 1: the content script's bundle (loader + wasm-bindgen glue + WebAssembly), gzip -9.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export const BUNDLE = ['content.js', 'wasm/threadline_extension.js', 'wasm/threadline_extension_bg.wasm'];
export const BUDGET_GZIP_BYTES = 150 * 1000;

export function bundleSizes(extensionDir) {
  const files = BUNDLE.map((rel) => {
    const bytes = fs.readFileSync(path.join(extensionDir, rel));
    return { file: rel, raw: bytes.length, gzip: zlib.gzipSync(bytes, { level: 9 }).length };
  });
  const total = {
    file: 'total',
    raw: files.reduce((s, f) => s + f.raw, 0),
    gzip: files.reduce((s, f) => s + f.gzip, 0),
  };
  return { files, total, budget: BUDGET_GZIP_BYTES, pass: total.gzip <= BUDGET_GZIP_BYTES };
}
