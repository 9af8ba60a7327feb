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
