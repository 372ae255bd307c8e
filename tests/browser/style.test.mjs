// Offline checks of the map style (no server, no browser): tiles/style.json is a valid MapLibre
// style v8; every URL in it is relative (the page makes them absolute with location.origin); every
// source is one of the server's tile layers; every text-font has glyph PBFs for ranges 0-255,
// 256-511 and 8192-8447 under tiles/fonts/, and its 0-255 range parses as glyphs.proto.
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
// The glyph files are well-formed glyphs.proto: read 0-255 of each font and check the digits,
// Latin letters and punctuation the labels use (bitmap = (width + 6) × (height + 6) bytes).
for (const font of fonts) {
  const file = path.join(tilesDir, 'fonts', font, '0-255.pbf');
  if (!fs.existsSync(file)) continue;
  let glyphs = [];
  let stack = null;
  try {
    ({stack, glyphs} = readGlyphs(fs.readFileSync(file)));
  } catch (e) {
    check(false, `${font}/0-255.pbf parses: ${e.message}`);
    continue;
  }
  check(stack.name === font && stack.range === '0-255', `${font}/0-255.pbf names its stack and range (${stack.name}, ${stack.range})`);
  const byId = new Map(glyphs.map((g) => [g.id, g]));
  const need = [...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-.,()#/'].map((c) => c.codePointAt(0));
  const missing = need.filter((id) => !byId.has(id)).map((id) => String.fromCodePoint(id));
  check(missing.length === 0, `${font}/0-255.pbf has ${glyphs.length} glyphs incl. digits, Latin, punctuation${missing.length ? ` (missing ${missing.join('')})` : ''}`);
  const bad = glyphs.filter((g) => g.width > 0 && (!g.bitmap || g.bitmap.length !== (g.width + 6) * (g.height + 6)));
  check(bad.length === 0, `${font}/0-255.pbf bitmaps are (width+6)×(height+6)${bad.length ? ` (wrong: ${bad.map((g) => g.id).join(',')})` : ''}`);
  const zero = byId.get(48);
  check(zero && zero.advance > 8 && zero.advance < 24 && zero.bitmap && Math.max(...zero.bitmap) > 192 && Math.min(...zero.bitmap) < 64,
    `glyph '0' has an advance within the 24 px em and an SDF crossing the 192 edge`);
  const space = byId.get(32);
  check(space && space.width === 0 && space.advance > 0, 'space is an empty glyph with an advance');
}

const ids = style.layers.map((l) => l.id);
for (const need of ['grids-fill', 'grids-line', 'grids-highlight', 'micro_grids-line', 'labels']) {
  check(ids.includes(need), `style has layer ${need} (the viewer and its test use it)`);
}

/** Reads a glyphs.proto file: the first fontstack's name, range and glyphs. */
function readGlyphs(buf) {
  let pos = 0;
  const varint = (end) => {
    let n = 0;
    let shift = 0;
    for (;;) {
      if (pos >= end) throw new Error(`truncated varint at byte ${pos}`);
      const b = buf[pos++];
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
      shift += 7;
    }
  };
  const fields = (end, onField) => {
    while (pos < end) {
      const key = varint(end);
      const tag = Math.floor(key / 8);
      const type = key & 7;
      if (type === 0) onField(tag, varint(end));
      else if (type === 2) {
        const len = varint(end);
        const start = pos;
        if (start + len > end) throw new Error(`field ${tag} runs past its message at byte ${start}`);
        onField(tag, {start, end: start + len});
        pos = start + len;
      } else throw new Error(`unexpected wire type ${type} at byte ${pos}`);
    }
  };
  const text = (r) => buf.subarray(r.start, r.end).toString('utf8');
  const stack = {name: null, range: null};
  const glyphs = [];
  let stacks = 0;
  fields(buf.length, (tag, v) => {
    if (tag !== 1 || typeof v !== 'object' || stacks++ > 0) return;
    pos = v.start;
    fields(v.end, (t, w) => {
      if (t === 1) stack.name = text(w);
      else if (t === 2) stack.range = text(w);
      else if (t === 3) {
        const g = {id: null, bitmap: null, width: 0, height: 0, left: 0, top: 0, advance: 0};
        pos = w.start;
        fields(w.end, (gt, gv) => {
          const zz = (n) => (n % 2 ? -(n + 1) / 2 : n / 2);
          if (gt === 1) g.id = gv;
          else if (gt === 2) g.bitmap = buf.subarray(gv.start, gv.end);
          else if (gt === 3) g.width = gv;
          else if (gt === 4) g.height = gv;
          else if (gt === 5) g.left = zz(gv);
          else if (gt === 6) g.top = zz(gv);
          else if (gt === 7) g.advance = gv;
        });
        glyphs.push(g);
      }
    });
  });
  if (stacks === 0) throw new Error('no fontstack message');
  return {stack, glyphs};
}

if (failures.length) {
  console.error(`\nstyle test FAILED (${failures.length})`);
  process.exit(1);
}
console.log('\nstyle test passed');
