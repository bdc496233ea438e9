// The published draw rule, in the browser (or Node >= 18: only WebCrypto
// and BigInt are used). Written from the rule as DESIGN.md and the comment
// of engine/core/draw.h state it, not from the engine's code, so that a
// mistake in one is caught by the other:
//
//   seed commitment = SHA-256(seed)                       (CampaignCreated)
//   draw value v    = first 8 bytes, big-endian, of
//                     HMAC-SHA256(seed, "ticketledger/draw/v1|" campaign "|" position "|" user)
//   prequeue key    = HMAC-SHA256(seed, "ticketledger/prequeue/v1|" campaign "|" user)
//   threshold       = floor(win_bps * 2^64 / 10000)       (exact integers: BigInt)
//   under(v)        = v < threshold
//
// position is written in decimal ASCII; strings are UTF-8. An entry drawn
// under the threshold wins while stock remains and is SOLD_OUT after it ran
// out; at or over the threshold it loses. A RANDOM campaign's pre-queue gets
// its positions in ascending order of the prequeue key (bytes compared as
// unsigned numbers, first byte first).
//
// A seed is given as 64 hex digits, or as 32 bytes (Uint8Array).
//
// Draw at close (draw = at_close): nothing is drawn while the campaign is
// open; at close every position is drawn at once with
//   key             = HMAC-SHA256(seed, "ticketledger/entropy/v1|" entropy_value)
//                     when the campaign committed to an entropy source, else the seed
//   draw value v    = as above, with `key` in place of the seed
//   eligible        = under(v)
// The eligible entries sorted by (v, position): the first `stock left at
// close` win, the rest form the waitlist in that order (rank 1, 2, ...); the
// others lose. atCloseKey and atCloseSelection below.

const subtle = globalThis.crypto && globalThis.crypto.subtle;
const utf8 = new TextEncoder();

export const DRAW_DOMAIN = 'ticketledger/draw/v1';
export const PREQUEUE_DOMAIN = 'ticketledger/prequeue/v1';
export const ENTROPY_DOMAIN = 'ticketledger/entropy/v1';
const TWO_POW_64 = 1n << 64n;

function need() {
  if (!subtle) {
    // WebCrypto's subtle API exists only in a secure context (https or localhost).
    throw new Error('WebCrypto (crypto.subtle) is not available here');
  }
  return subtle;
}

// --- bytes ------------------------------------------------------------------

export function hexToBytes(hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new Error('not a hex string: ' + String(hex).slice(0, 80));
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, '0');
  return s;
}

// Standard base64 (the protobuf JSON mapping writes bytes this way; it also
// accepts the URL-safe alphabet, so both are read). Throws on anything else.
export function base64ToBytes(text) {
  if (typeof text !== 'string') throw new Error('base64: not a string');
  let s = text.replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new Error('not base64: ' + text.slice(0, 80));
  s = s.replace(/=+$/, '');
  if (s.length % 4 === 1) throw new Error('not base64 (length): ' + text.slice(0, 80));
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    acc = (acc << 6) | alphabet.indexOf(s[i]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

// -1, 0 or 1: unsigned bytes, first byte first, the shorter first on a tie.
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function seedBytes(seed) {
  const b = typeof seed === 'string' ? hexToBytes(seed) : new Uint8Array(seed);
  if (b.length !== 32) throw new Error('a seed is 32 bytes, got ' + b.length);
  return b;
}

// Decimal ASCII of a non-negative integer given as BigInt, number or digits.
function decimal(position) {
  let p;
  if (typeof position === 'bigint') p = position;
  else if (typeof position === 'number' && Number.isSafeInteger(position)) p = BigInt(position);
  else if (typeof position === 'string' && /^[0-9]+$/.test(position)) p = BigInt(position);
  else throw new Error('not a position: ' + String(position));
  if (p < 0n || p >= TWO_POW_64) throw new Error('position out of range: ' + p);
  return p.toString(10);
}

// --- the rule -----------------------------------------------------------------

// SHA-256(seed) as 64 hex digits.
export async function commitmentOf(seed) {
  const digest = await need().digest('SHA-256', seedBytes(seed));
  return bytesToHex(new Uint8Array(digest));
}

// floor(win_bps * 2^64 / 10000) as a BigInt (2^64 for win_bps = 10000).
export function winThreshold(winBps) {
  const bps = BigInt(winBps);
  if (bps < 0n || bps > 10000n) throw new Error('win_bps must be 0..10000, got ' + winBps);
  return (bps * TWO_POW_64) / 10000n;
}

// True iff the draw value is under the threshold: a win while stock remains.
export function isUnder(value, winBps) {
  return BigInt(value) < winThreshold(winBps);
}
// The name the pages use: "would win, stock permitting".
export const isWin = isUnder;

// What a draw decides, given the stock left before it:
// { outcome: 'WON'|'LOST'|'SOLD_OUT', stockLeft: stock after the draw }.
export function outcomeOf(value, winBps, stockBefore) {
  const stock = BigInt(stockBefore);
  if (!isUnder(value, winBps)) return { outcome: 'LOST', stockLeft: stock };
  if (stock > 0n) return { outcome: 'WON', stockLeft: stock - 1n };
  return { outcome: 'SOLD_OUT', stockLeft: stock };
}

// One campaign's seed, imported once: many draws cost one HMAC each.
export class Drawer {
  constructor(key) {
    this.key = key;
  }

  static async create(seed) {
    const key = await need().importKey(
      'raw',
      seedBytes(seed),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    return new Drawer(key);
  }

  // HMAC-SHA256(seed, message) as 32 bytes.
  async mac(message) {
    const data = typeof message === 'string' ? utf8.encode(message) : message;
    return new Uint8Array(await need().sign('HMAC', this.key, data));
  }

  // The draw value as a BigInt in [0, 2^64).
  async drawValue(campaign, position, user) {
    const mac = await this.mac(`${DRAW_DOMAIN}|${campaign}|${decimal(position)}|${user}`);
    let v = 0n;
    for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(mac[i]);
    return v;
  }

  // The prequeue key as 32 bytes.
  async prequeueKey(campaign, user) {
    return this.mac(`${PREQUEUE_DOMAIN}|${campaign}|${user}`);
  }
}

// One-shot forms (each imports the key again; use a Drawer for many).
export async function drawValue(seed, campaign, position, user) {
  return (await Drawer.create(seed)).drawValue(campaign, position, user);
}

export async function prequeueKey(seed, campaign, user) {
  return (await Drawer.create(seed)).prequeueKey(campaign, user);
}

// The at-close draw key (32 bytes): HMAC-SHA256(seed, "ticketledger/entropy/v1|"
// entropy_value) when the campaign committed to an entropy source, else the
// seed itself. entropyValue: the published value as text (UTF-8) or bytes.
export async function atCloseKey(seed, committed, entropyValue) {
  const s = seedBytes(seed);
  if (!committed) return s;
  const v = typeof entropyValue === 'string' ? utf8.encode(entropyValue) : new Uint8Array(entropyValue || []);
  const prefix = utf8.encode(`${ENTROPY_DOMAIN}|`);
  const msg = new Uint8Array(prefix.length + v.length);
  msg.set(prefix, 0);
  msg.set(v, prefix.length);
  return (await Drawer.create(s)).mac(msg);
}

// The at-close selection over drawn entries [{position, value}] (value a
// BigInt draw value under the at-close key): eligible = under the threshold;
// the eligible sorted by (value, position), the first `stock` WON, the rest
// WAITLISTED with ranks 1.. in that order; the others LOST. Returns a Map
// position (string) -> {outcome: 'WON'|'WAITLISTED'|'LOST', rank (0 unless
// WAITLISTED)}.
//
// With items (issue 15) an entry also names {item, quantity} and `stock` is
// a Map item -> units left at close: per item, in the same (value, position)
// order, an eligible entry wins when its whole quantity fits in what is left
// of its item, else it joins that item's waitlist (ranks per item). Without
// items every entry asks for 1 unit of one implicit item: the rule above.
export function atCloseSelection(entries, winBps, stock) {
  const threshold = winThreshold(winBps);
  const left = stock instanceof Map ? new Map([...stock].map(([k, v]) => [k, BigInt(v)])) : new Map([['', BigInt(stock)]]);
  const ranks = new Map();
  const eligible = [];
  const out = new Map();
  for (const e of entries) {
    const value = BigInt(e.value);
    if (value < threshold) eligible.push({ position: BigInt(e.position), value, item: e.item || '', quantity: BigInt(e.quantity || 1) });
    else out.set(String(e.position), { outcome: 'LOST', rank: 0 });
  }
  eligible.sort((a, b) => (a.value !== b.value ? (a.value < b.value ? -1 : 1) : a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  for (const e of eligible) {
    const units = left.get(e.item) || 0n;
    if (units >= e.quantity) {
      left.set(e.item, units - e.quantity);
      out.set(e.position.toString(), { outcome: 'WON', rank: 0 });
    } else {
      const rank = (ranks.get(e.item) || 0) + 1;
      ranks.set(e.item, rank);
      out.set(e.position.toString(), { outcome: 'WAITLISTED', rank });
    }
  }
  return out;
}
