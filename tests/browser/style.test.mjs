// Offline checks of the map style (no server, no browser): tiles/style.json is a valid MapLibre
// style v8; every URL in it is relative (the page makes them absolute with location.origin); every
// source is one of the server's tile layers; every text-font has glyph PBFs for ranges 0-255,
// 256-511 and 8192-8447 under tiles/fonts/.
//
//   node tests/browser/style.test.mjs

import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {validateStyleMin} from '@maplibre/maplibre-gl-style-spec';

const here = path.dirname(fileURLToPath(import.meta.url));
const tilesDir = path.resolve(here, '../../tiles');
const LAYERS = ['villages', 'grids', 'micro_grids', 'buildings', 'roads', 'rivers', 'labels'];
const failures = [];
const check = (ok, message) => {
  if (!ok) failures.push(message);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${message}`);
};

const style = JSON.parse(fs.readFileSync(path.join(tilesDir, 'style.json'), 'utf8'));
const errors = validateStyleMin(style);
check(errors.length === 0, `tiles/style.json is a valid MapLibre style${errors.map((e) => `\n     ${e.message}`).join('')}`);

const urls = [style.glyphs, style.sprite, ...Object.values(style.sources).flatMap((s) => [s.url, ...(s.tiles || [])])]
  .filter((u) => typeof u === 'string');
const nonRelative = urls.filter((u) => !u.startsWith('/') || u.startsWith('//'));
check(nonRelative.length === 0, `every URL is server-relative (${urls.length})${nonRelative.map((u) => `\n     ${u}`).join('')}`);

for (const [id, s] of Object.entries(style.sources)) {
  check(LAYERS.includes(id) && s.url === `/tiles/${id}.json`, `source ${id} is the server's layer /tiles/${id}.json`);
}
for (const l of style.layers.filter((x) => x.source)) {
  check(l['source-layer'] === l.source, `layer ${l.id} reads source-layer ${l.source}`);
}

const fonts = new Set(style.layers.flatMap((l) => (l.layout && l.layout['text-font']) || []));
check(fonts.size > 0, `symbol layers name their fonts (${[...fonts].join(', ')})`);
for (const font of fonts) {
  for (const range of ['0-255', '256-511', '8192-8447']) {
    const f = path.join(tilesDir, 'fonts', font, `${range}.pbf`);
    check(fs.existsSync(f) && fs.statSync(f).size > 0, `glyphs ${font}/${range}.pbf exist`);
  }
}
const ids = style.layers.map((l) => l.id);
for (const need of ['grids-fill', 'grids-line', 'grids-highlight', 'micro_grids-line', 'labels']) {
  check(ids.includes(need), `style has layer ${need} (the viewer and its test use it)`);
}

if (failures.length) {
  console.error(`\nstyle test FAILED (${failures.length})`);
  process.exit(1);
}
console.log('\nstyle test passed');
