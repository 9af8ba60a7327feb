// COCO compressed RLE (the "counts" string pycocotools writes) decoded in the browser, and the outline of a
// mask as pixel-edge segments, so the page draws crisp outlines at any zoom without asking the server.
"use strict";

// Run lengths, alternating background / foreground, starting with background (pycocotools rleFrString).
function rleCounts(text) {
  const counts = [];
  let p = 0;
  while (p < text.length) {
    let x = 0, k = 0, more = true;
    while (more) {
      const c = text.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && (c & 0x10)) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

// The mask inside box [x, y, w, h] (integers covering the mask) as a Uint8Array, row-major over the box.
// COCO masks are column-major over the image: pixel index i is (x = floor(i / h), y = i % h).
function rleToBoxMask(rle, box) {
  const [height] = rle.size;
  const [bx, by, bw, bh] = box;
  const mask = new Uint8Array(bw * bh);
  const counts = typeof rle.counts === "string" ? rleCounts(rle.counts) : rle.counts;
  let index = 0;
  for (let r = 0; r < counts.length; r++) {
    const end = index + counts[r];
    if (r % 2 === 1) {
      for (let i = index; i < end; i++) {
        const x = Math.floor(i / height) - bx, y = (i % height) - by;
        if (x >= 0 && y >= 0 && x < bw && y < bh) mask[y * bw + x] = 1;
      }
    }
    index = end;
  }
  return mask;
}

// Path2D (image coordinates) along every side of a mask pixel that borders a pixel outside the mask.
function maskOutline(mask, box) {
  const [bx, by, bw, bh] = box;
  const inside = (x, y) => x >= 0 && y >= 0 && x < bw && y < bh && mask[y * bw + x] === 1;
  const path = new Path2D();
  let segments = 0;
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      if (!inside(x, y)) continue;
      const X = bx + x, Y = by + y;
      if (!inside(x, y - 1)) { path.moveTo(X, Y); path.lineTo(X + 1, Y); segments++; }
      if (!inside(x, y + 1)) { path.moveTo(X, Y + 1); path.lineTo(X + 1, Y + 1); segments++; }
      if (!inside(x - 1, y)) { path.moveTo(X, Y); path.lineTo(X, Y + 1); segments++; }
      if (!inside(x + 1, y)) { path.moveTo(X + 1, Y); path.lineTo(X + 1, Y + 1); segments++; }
    }
  }
  return { path, segments };
}

// The compressed counts string of run lengths (pycocotools rleToString): 5 bits a character, from the fourth
// run on each coded as the difference to the run two before it.
function rleString(counts) {
  let text = "";
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i] - (i > 2 ? counts[i - 2] : 0);
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5;
      more = (c & 0x10) ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      text += String.fromCharCode(c + 48);
    }
  }
  return text;
}

// One compressed RLE per nonzero label of a row-major label image (width x height), in a single column-major
// pass: Map label -> {size: [height, width], counts: string}, each what pycocotools encodes for label == id.
function rleEncodeLabels(labels, width, height) {
  const runs = new Map();  // label -> {counts, last: column-major index after its last foreground pixel}
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const id = labels[y * width + x];
      if (!id) continue;
      const i = x * height + y;
      let r = runs.get(id);
      if (!r) { r = { counts: [], last: 0 }; runs.set(id, r); }
      if (r.counts.length && r.last === i) r.counts[r.counts.length - 1]++;
      else r.counts.push(i - r.last, 1);
      r.last = i + 1;
    }
  }
  const out = new Map();
  for (const [id, r] of runs) {
    if (r.last < width * height) r.counts.push(width * height - r.last);
    out.set(id, { size: [height, width], counts: rleString(r.counts) });
  }
  return out;
}

// Every foreground pixel of an RLE (string or list counts) as row-major indices into its image.
function rlePixels(rle) {
  const [height, width] = rle.size;
  const counts = typeof rle.counts === "string" ? rleCounts(rle.counts) : rle.counts;
  const pixels = [];
  let index = 0;
  for (let r = 0; r < counts.length; r++) {
    const end = index + counts[r];
    if (r % 2 === 1) for (let i = index; i < end; i++) pixels.push((i % height) * width + Math.floor(i / height));
    index = end;
  }
  return pixels;
}
