// Receipts: the campaign's Merkle tree of entries, checked in the browser
// (or Node >= 18: only WebCrypto and BigInt are used). Written from the rule
// as engine/core/merkle.h states it, RFC 9162 (Certificate Transparency v2)
// section 2.1:
//
//   leaf hash  = SHA-256(0x00 || leaf)
//   node hash  = SHA-256(0x01 || left || right)
//   MTH({})    = SHA-256("")
//   MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
//   leaf       = "ticketledger/entry/v1|" position "|" entry_time_ms "|" user
//
// position and entry time (the time_ms of the QueueEntered event that gave
// the position) in decimal ASCII, strings UTF-8. The leaves are a campaign's
// entries in position order 1..n (leaf index = position - 1), and
// CampaignClosed.merkle_root is MTH over all of them. An inclusion proof is
// the RFC's audit path (siblings from the leaf up); verifyInclusion is the
// RFC's verification algorithm (2.1.3.2), step by step.
//
// Hashes are given and returned as Uint8Array(32); hex helpers are in draw.js.

import { bytesToHex, hexToBytes } from './draw.js';

export const LEAF_DOMAIN = 'ticketledger/entry/v1';
const utf8 = new TextEncoder();
const TWO_POW_64 = 1n << 64n;

function subtle() {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  // WebCrypto's subtle API exists only in a secure context (https or localhost).
  if (!s) throw new Error('WebCrypto (crypto.subtle) is not available here');
  return s;
}

async function sha256(bytes) {
  return new Uint8Array(await subtle().digest('SHA-256', bytes));
}

function u64(v, what) {
  let n;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^[0-9]{1,20}$/.test(v)) n = BigInt(v);
  else throw new Error(`${what}: not an unsigned integer: ${String(v).slice(0, 40)}`);
  if (n < 0n || n >= TWO_POW_64) throw new Error(`${what}: out of range: ${n}`);
  return n;
}

function hash32(h, what) {
  const b = typeof h === 'string' ? hexToBytes(h) : h;
  if (!(b instanceof Uint8Array) || b.length !== 32) throw new Error(`${what}: a SHA-256 hash is 32 bytes (64 hex digits)`);
  return b;
}

// The leaf text of one entry.
export function leafText(position, entryTimeMs, user) {
  if (typeof user !== 'string') throw new Error('user: not a string');
  return `${LEAF_DOMAIN}|${u64(position, 'position')}|${u64(entryTimeMs, 'entry time')}|${user}`;
}

// SHA-256(0x00 || leaf); leaf a string (UTF-8) or bytes.
export async function leafHash(leaf) {
  const data = typeof leaf === 'string' ? utf8.encode(leaf) : leaf;
  const buf = new Uint8Array(1 + data.length);
  buf[0] = 0x00;
  buf.set(data, 1);
  return sha256(buf);
}

// SHA-256(0x01 || left || right).
export async function nodeHash(left, right) {
  const buf = new Uint8Array(65);
  buf[0] = 0x01;
  buf.set(hash32(left, 'left'), 1);
  buf.set(hash32(right, 'right'), 33);
  return sha256(buf);
}

function splitPoint(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// MTH over the given leaf hashes (RFC 9162 2.1.1), recursively.
export async function rootOf(leafHashes) {
  const n = leafHashes.length;
  if (n === 0) return sha256(new Uint8Array(0));
  if (n === 1) return hash32(leafHashes[0], 'leaf hash');
  const k = splitPoint(n);
  return nodeHash(await rootOf(leafHashes.slice(0, k)), await rootOf(leafHashes.slice(k)));
}

// MTH over many leaf hashes fed one at a time, in order, in O(log n) memory:
// a stack of perfect subtrees, folded from the right at the end (the same
// tree as rootOf). The verifier page feeds it every position of an export.
export class RootBuilder {
  constructor() {
    this.stack = []; // [{size, hash}], sizes decreasing
    this.count = 0;
  }

  async add(leafHashBytes) {
    let top = { size: 1, hash: hash32(leafHashBytes, 'leaf hash') };
    while (this.stack.length > 0 && this.stack[this.stack.length - 1].size === top.size) {
      const left = this.stack.pop();
      top = { size: top.size * 2, hash: await nodeHash(left.hash, top.hash) };
    }
    this.stack.push(top);
    this.count++;
  }

  async root() {
    if (this.stack.length === 0) return sha256(new Uint8Array(0));
    let r = this.stack[this.stack.length - 1].hash;
    for (let i = this.stack.length - 2; i >= 0; i--) r = await nodeHash(this.stack[i].hash, r);
    return r;
  }
}

// The audit path of leaf `index` (RFC 9162 2.1.3.1), siblings from the leaf
// up. For tests and for a verifier that holds every leaf.
export async function proofOf(leafHashes, index) {
  if (!(Number.isSafeInteger(index) && index >= 0 && index < leafHashes.length)) {
    throw new Error(`index ${index} is not a leaf of a tree of ${leafHashes.length}`);
  }
  const path = [];
  const walk = async (hashes, m) => {
    const n = hashes.length;
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      await walk(hashes.slice(0, k), m);
      path.push(await rootOf(hashes.slice(k)));
    } else {
      await walk(hashes.slice(k), m - k);
      path.push(await rootOf(hashes.slice(0, k)));
    }
  };
  await walk(leafHashes, index);
  return path;
}

// RFC 9162 2.1.3.2: true iff `path` proves that the leaf with `leafHashBytes`
// is leaf `index` of a tree of `size` leaves whose root is `root`. Hashes as
// Uint8Array or hex; index and size as numbers, BigInt or decimal strings.
// Returns {ok, computed (hex of the root the path leads to, or null), why}.
export async function verifyInclusion(index, size, leafHashBytes, path, root) {
  const idx = u64(index, 'index');
  const n = u64(size, 'tree size');
  const want = hash32(root, 'root');
  if (!Array.isArray(path)) throw new Error('path: not a list');
  const sibs = path.map((p, i) => hash32(p, `path[${i}]`));
  if (idx >= n) return { ok: false, computed: null, why: 'index_out_of_range' };
  // 1. fn = index, sn = size - 1, r = the leaf hash.
  let fn = idx;
  let sn = n - 1n;
  let r = hash32(leafHashBytes, 'leaf hash');
  // 2. For each p in the path:
  for (const p of sibs) {
    // a. If sn is 0, stop: the path is too long.
    if (sn === 0n) return { ok: false, computed: null, why: 'path_too_long' };
    // b. If LSB(fn) is set, or fn equals sn:
    if ((fn & 1n) === 1n || fn === sn) {
      // i. r = node(p, r)
      r = await nodeHash(p, r);
      // ii. If LSB(fn) is not set, shift fn and sn right until LSB(fn) is set or fn is 0.
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      // c. Otherwise r = node(r, p).
      r = await nodeHash(r, p);
    }
    // d. Shift fn and sn right by one.
    fn >>= 1n;
    sn >>= 1n;
  }
  // 3. Valid iff sn is 0 and r equals the root.
  const computed = bytesToHex(r);
  if (sn !== 0n) return { ok: false, computed, why: 'path_too_short' };
  if (computed !== bytesToHex(want)) return { ok: false, computed, why: 'root_differs' };
  return { ok: true, computed, why: null };
}

// Checks a receipt as GET .../entries/me/proof returns it, against the
// campaign's published root (`publishedRoot`, hex; the receipt's own "root"
// when none is given — then only the receipt's self-consistency is shown).
// Every part is recomputed: the leaf text from position, entry time and
// user; the leaf hash from the text; the index from the position; the root
// from the path. Returns {ok, checks: [{id, ok, got, want}], computedRoot}.
export async function checkReceipt(receipt, publishedRoot) {
  if (!receipt || typeof receipt !== 'object' || Array.isArray(receipt)) throw new Error('a receipt is a JSON object');
  for (const k of ['position', 'entry_time_ms', 'user', 'tree_size', 'path']) {
    if (receipt[k] === undefined || receipt[k] === null) throw new Error(`the receipt has no "${k}"`);
  }
  const checks = [];
  const position = u64(receipt.position, 'position');
  if (position < 1n) throw new Error('position: positions start at 1');
  const text = leafText(position, receipt.entry_time_ms, receipt.user);
  if (receipt.leaf !== undefined) checks.push({ id: 'leaf_text', ok: receipt.leaf === text, got: String(receipt.leaf), want: text });
  const lh = await leafHash(text);
  const lhHex = bytesToHex(lh);
  if (receipt.leaf_hash !== undefined) {
    checks.push({ id: 'leaf_hash', ok: String(receipt.leaf_hash).toLowerCase() === lhHex, got: String(receipt.leaf_hash), want: lhHex });
  }
  const index = position - 1n;
  if (receipt.index !== undefined) {
    checks.push({ id: 'index', ok: u64(receipt.index, 'index') === index, got: String(receipt.index), want: index.toString() });
  }
  const rootHex = String(publishedRoot || receipt.root || '').toLowerCase();
  if (!rootHex) throw new Error('no root to compare with');
  if (publishedRoot && receipt.root !== undefined) {
    checks.push({ id: 'root_published', ok: String(receipt.root).toLowerCase() === rootHex, got: String(receipt.root), want: rootHex });
  }
  const v = await verifyInclusion(index, receipt.tree_size, lh, receipt.path, rootHex);
  checks.push({ id: 'path', ok: v.ok, got: v.computed || v.why, want: rootHex, why: v.why });
  return { ok: checks.every((c) => c.ok), checks, computedRoot: v.computed, leaf: text, leafHash: lhHex };
}
