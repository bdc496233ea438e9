// Checks one campaign's ledger export (schemas/EXPORT.md) against the
// published rule (draw.js): the seed against its commitment, gapless
// positions, one entry per user, the pre-queue order of a RANDOM queue,
// admissions in order, every draw value and outcome with the stock, and the
// observed win rate. No DOM: the verifier page (verify.js) and the tests use
// it alike.
//
//   const check = new LedgerCheck();
//   check.addLine(text) ...              (one NDJSON line at a time, in order)
//   const report = await check.finish(progress);
//
// A check ends as 'ok' (it was made and held), 'mismatch' (it was made and
// failed: `mismatches` names the position or line), 'not_checked' (it could
// not be made: the reason says why) or 'na' (nothing to check, e.g. the
// pre-queue of a FIFO queue). The report never claims more than was checked.
//
// Issue 14's events are checked too: a draw at close (every position drawn
// after campaign_closed, keyed with the committed entropy value, the
// smallest eligible values winning and the rest waitlisted in order: draw.js
// atCloseKey / atCloseSelection), holds (a win's deadline is its event time
// + hold_s; confirmed only before it, expired only at or after it, each
// expiry returning one unit), promotions (always the head of the waitlist,
// one unit each) and the Merkle root of the entries in campaign_closed
// (merkle.js), re-derived from every position's queue_entered event.
//
// Issue 15's items: a campaign may sell several items (time slots, sizes),
// each with its own stock, and an entry or choice takes a quantity of units,
// all or nothing. The stock walk then counts units per item: a draw wins only
// when the item has the whole quantity left (choose=at_entry), an at-close
// draw selects per item (draw.js atCloseSelection with items), promotions
// take the head of their item's waitlist, cancellations and expiries return
// exactly the units taken, restocks name their item, and every published
// item_stock_left must match. choose=on_admission: a draw under the
// threshold admits (OUTCOME_ADMITTED, choose_until_ms = time + choose_s)
// while units are left; item_chosen only by an admitted position before its
// deadline, once, and only when the item has the units (never oversold);
// choice_expired only at or after the deadline, and before any other event
// at or after it. The 'items' check reports these; the per-item balance
// (stock + restocked = left + taken − returned) is in totals.items.

import { Drawer, atCloseKey, atCloseSelection, base64ToBytes, bytesToHex, commitmentOf, compareBytes, winThreshold } from './draw.js';
import { RootBuilder, leafHash, leafText } from './merkle.js';

const BODIES = [
  'campaign_created',
  'queue_entered',
  'entry_prequeued',
  'entry_rejected',
  'entry_admitted',
  'draw_resolved',
  'stock_changed',
  'entry_cancelled',
  'campaign_closed',
  'seed_revealed',
  'admission_paused',
  'admission_resumed',
  'entry_confirmed',
  'hold_expired',
  'entry_promoted',
  'item_chosen',
  'choice_expired',
];
// Bodies the stock and hold walk of finish() follows.
const TIMELINE_KINDS = ['draw_resolved', 'stock_changed', 'entry_cancelled', 'entry_confirmed', 'hold_expired', 'entry_promoted', 'item_chosen', 'choice_expired'];
// Objects of the envelope that are not event bodies (EXPORT.md).
const ENVELOPE_OBJECTS = ['idempotency'];
const OUTCOMES = ['OUTCOME_UNSPECIFIED', 'OUTCOME_WON', 'OUTCOME_LOST', 'OUTCOME_SOLD_OUT', 'OUTCOME_WAITLISTED', 'OUTCOME_ADMITTED'];
const CHOOSES = ['CHOOSE_UNSPECIFIED', 'CHOOSE_AT_ENTRY', 'CHOOSE_ON_ADMISSION'];
const QUEUEINGS = ['QUEUEING_UNSPECIFIED', 'QUEUEING_FIFO', 'QUEUEING_RANDOM'];
const DRAWS = ['DRAW_UNSPECIFIED', 'DRAW_INSTANT', 'DRAW_AT_CLOSE'];
const STOCK_REASONS = ['STOCK_REASON_UNSPECIFIED', 'STOCK_RESTOCK', 'STOCK_CANCELLATION', 'STOCK_HOLD_EXPIRED'];
const REJECT_REASONS = [
  'REJECT_REASON_UNSPECIFIED',
  'REJECT_DUPLICATE',
  'REJECT_CAMPAIGN_CLOSED',
  'REJECT_UNKNOWN_CAMPAIGN',
  'REJECT_CAMPAIGN_FULL',
  'REJECT_NOT_YET_OPEN',
  'REJECT_INVALID_ARGUMENT',
  'REJECT_CAMPAIGN_EXISTS',
  'REJECT_NOT_CANCELLABLE',
  'REJECT_NOT_DRAINED',
  'REJECT_ALREADY_REVEALED',
  'REJECT_NOT_ENTERED',
  'REJECT_IDEMPOTENCY_MISMATCH',
  'REJECT_HOLD_EXPIRED',
  'REJECT_ALREADY_CONFIRMED',
  'REJECT_PASS_MISMATCH',
  'REJECT_NOT_CONFIRMABLE',
  'REJECT_ITEM_FULL',
  'REJECT_UNKNOWN_ITEM',
  'REJECT_QUANTITY',
  'REJECT_NOT_ADMITTED',
  'REJECT_CHOICE_EXPIRED',
  'REJECT_ALREADY_CHOSEN',
];

// The checks, in the order the page lists them.
export const CHECKS = [
  'format',
  'seed',
  'positions',
  'one_entry',
  'prequeue',
  'admissions',
  'draw_values',
  'outcomes',
  'stock',
  'holds',
  'items',
  'close_reveal',
  'merkle',
  'rate',
  'timing',
  'completeness',
];

// Wilson score interval for k successes in n at z (99.9% two-sided: 3.2905).
export const Z999 = 3.2905;
export function wilson(k, n, z = Z999) {
  if (n === 0) return [0, 1];
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

// A binary min-heap of [deadline (BigInt), position (string)], by deadline
// then position (the engine's expiry order).
class MinHeap {
  constructor() {
    this.a = [];
  }
  size() {
    return this.a.length;
  }
  peek() {
    return this.a[0];
  }
  static less(x, y) {
    if (x[0] !== y[0]) return x[0] < y[0];
    return BigInt(x[1]) < BigInt(y[1]);
  }
  push(v) {
    const a = this.a;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!MinHeap.less(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop() {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && MinHeap.less(a[l], a[m])) m = l;
        if (r < a.length && MinHeap.less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

// --- the JSON mapping, read leniently (EXPORT.md: what a reader accepts) ---

function u64(v) {
  if (v === undefined || v === null || v === '') return 0n;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error('not an unsigned integer: ' + v);
    return BigInt(v);
  }
  if (typeof v === 'string' && /^[0-9]+$/.test(v)) return BigInt(v);
  throw new Error('not an unsigned integer: ' + JSON.stringify(v));
}

function i64(v) {
  if (typeof v === 'string' && /^-[0-9]+$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  return u64(v);
}

function str(v) {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new Error('not a string: ' + JSON.stringify(v));
  return v;
}

function bytes(v) {
  if (v === undefined || v === null || v === '') return new Uint8Array(0);
  return base64ToBytes(str(v));
}

function enumName(v, names) {
  if (v === undefined || v === null) return names[0];
  if (typeof v === 'number') return names[v] || String(v);
  return str(v);
}

// --- the checker -----------------------------------------------------------------

export class LedgerCheck {
  constructor(options = {}) {
    this.mismatchesMax = options.mismatchesMax || 1000;
    this.campaign = null;
    this.lines = 0;
    this.lastSequence = 0n;
    this.config = null; // from campaign_created
    this.commitment = null; // Uint8Array
    this.seed = null; // Uint8Array
    this.unknownBodies = new Map(); // body -> first line
    this.formatErrors = 0;
    this.mismatches = [];
    this.mismatchCount = 0;
    this.mismatchByCheck = new Map();
    // Queue.
    this.positions = []; // positions[p-1] = { user, line, key (Uint8Array|null) }
    this.userPosition = new Map(); // user -> position (0 while pre-queued)
    this.prequeued = []; // users in arrival order
    this.prequeuedSet = new Set();
    this.keyed = []; // positions that carried a prequeue key, in order
    this.unkeyedSeen = false;
    // Serving and draws, in ledger order (the stock walk needs the order).
    this.timeline = []; // { kind: 'draw'|'stock'|'cancel', ... }
    this.served = 0; // last position admitted
    this.pendingAdmit = null; // an admission waiting for its draw
    this.closed = false;
    this.closedEntries = null;
    this.closedAt = null; // positions assigned when the close was decided
    this.revealedAtServed = null;
    this.revealLine = null;
    this.rejected = 0;
    this.rejectedByReason = new Map();
    this.eventsBeforeCreation = 0;
    this.pendingCancel = null;
    this.time = 0n; // the current event's time_ms
    this.merkleRoot = null; // Uint8Array from campaign_closed (empty: before receipts)
    this.merkleLeaves = 0n;
    this.entropyValue = '';
    this.closeLine = null;
    this.prequeuedAsk = new Map(); // user -> { item, quantity } (at_entry with items)
  }

  // An item and quantity asked for: a known item, 1..its per-user maximum
  // (within the campaign's), as the engine's QuantityMax.
  checkAsk(item, quantity, where, line) {
    const i = this.config.itemIndex.get(item);
    if (i === undefined) {
      this.mismatch('items', where, 'item ' + JSON.stringify(item), 'an item of the campaign', line);
      return;
    }
    const max = this.quantityMax(i);
    if (quantity < 1n || quantity > BigInt(max)) this.mismatch('items', where, 'quantity ' + quantity, '1..' + max, line);
  }

  quantityMax(i) {
    const campaign = this.config.perUserMax === 0 ? 1 : this.config.perUserMax;
    const own = this.config.items[i] ? this.config.items[i].perUserMax : 0;
    return own === 0 ? campaign : Math.min(own, campaign);
  }

  mismatch(check, where, published, expected, line) {
    this.mismatchCount++;
    this.mismatchByCheck.set(check, (this.mismatchByCheck.get(check) || 0) + 1);
    if (this.mismatches.length < this.mismatchesMax) {
      this.mismatches.push({ check, ...where, published, expected, line });
    }
  }

  // One line of the export (without its newline). Throws nothing: a bad
  // line is a 'format' mismatch naming its number.
  addLine(text) {
    const line = ++this.lines;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text === '') {
      this.formatErrors++;
      this.mismatch('format', {}, 'empty line', 'one event', line);
      return;
    }
    let e;
    try {
      e = JSON.parse(text);
      if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new Error('not an object');
    } catch (err) {
      this.formatErrors++;
      this.mismatch('format', {}, 'not JSON: ' + String(err.message).slice(0, 80), 'one event', line);
      return;
    }
    try {
      this.addEvent(e, line);
    } catch (err) {
      this.formatErrors++;
      this.mismatch('format', {}, String(err.message).slice(0, 120), 'the protobuf JSON mapping', line);
    }
  }

  addEvent(e, line) {
    const campaign = str(e.campaign_id);
    if (this.campaign === null) this.campaign = campaign;
    if (campaign !== this.campaign) {
      this.mismatch('format', {}, 'campaign ' + campaign, 'campaign ' + this.campaign, line);
      return;
    }
    const seq = u64(e.sequence);
    if (seq <= this.lastSequence) {
      this.mismatch('format', {}, 'sequence ' + seq, 'greater than ' + this.lastSequence, line);
    }
    this.lastSequence = seq;
    const present = BODIES.filter((k) => e[k] !== undefined && e[k] !== null);
    const unknown = Object.keys(e).filter(
      (k) => e[k] !== null && typeof e[k] === 'object' && !BODIES.includes(k) && !ENVELOPE_OBJECTS.includes(k),
    );
    this.time = u64(e.time_ms);
    if (present.length === 0 || unknown.length > 0) {
      const name = unknown[0] || '(none)';
      if (!this.unknownBodies.has(name)) this.unknownBodies.set(name, line);
      return;
    }
    if (present.length > 1) {
      this.mismatch('format', {}, present.join('+'), 'one event body', line);
      return;
    }
    const kind = present[0];
    const b = e[kind];
    // With holds, every event's time matters (the first event at or after a
    // deadline must be its expiry): events the walk does not otherwise see
    // leave their time, one per distinct time.
    if (this.config !== null && (this.config.holdS > 0n || this.config.onAdmission) && !TIMELINE_KINDS.includes(kind)) {
      const last = this.timeline[this.timeline.length - 1];
      if (!last || last.kind !== 'time' || last.time !== this.time) this.timeline.push({ kind: 'time', what: kind, time: this.time, line });
    }
    if (this.config === null && kind !== 'campaign_created') {
      this.eventsBeforeCreation++;
      if (kind !== 'entry_rejected') this.mismatch('format', {}, kind, 'campaign_created first', line);
      if (kind === 'entry_rejected') this.onRejected(b, line);
      return;
    }
    switch (kind) {
      case 'campaign_created':
        return this.onCreated(b, line);
      case 'entry_prequeued':
        return this.onPrequeued(b, line);
      case 'queue_entered':
        return this.onEntered(b, line);
      case 'entry_rejected':
        return this.onRejected(b, line);
      case 'entry_admitted':
        return this.onAdmitted(b, line);
      case 'draw_resolved':
        return this.onDraw(b, line);
      case 'stock_changed':
        return this.onStock(b, line);
      case 'entry_cancelled':
        return this.onCancel(b, line);
      case 'campaign_closed':
        return this.onClosed(b, line);
      case 'seed_revealed':
        return this.onRevealed(b, line);
      case 'entry_confirmed':
        return this.timeline.push({ kind: 'confirm', user: str(b.user_id), position: u64(b.position).toString(), passId: str(b.pass_id), time: this.time, line });
      case 'hold_expired':
        return this.timeline.push({ kind: 'expire', user: str(b.user_id), position: u64(b.position).toString(), holdUntil: u64(b.hold_until_ms), time: this.time, line });
      case 'entry_promoted':
        return this.timeline.push({
          kind: 'promote',
          user: str(b.user_id),
          position: u64(b.position).toString(),
          rank: u64(b.waitlist_rank),
          holdUntil: u64(b.hold_until_ms),
          stockLeft: u64(b.stock_left),
          item: str(b.item_id),
          quantity: u64(b.quantity),
          itemStockLeft: u64(b.item_stock_left),
          time: this.time,
          line,
        });
      case 'item_chosen':
        return this.timeline.push({
          kind: 'choose',
          user: str(b.user_id),
          position: u64(b.position).toString(),
          item: str(b.item_id),
          quantity: u64(b.quantity),
          itemStockLeft: u64(b.item_stock_left),
          stockLeft: u64(b.stock_left),
          holdUntil: u64(b.hold_until_ms),
          time: this.time,
          line,
        });
      case 'choice_expired':
        return this.timeline.push({ kind: 'choice_expired', user: str(b.user_id), position: u64(b.position).toString(), chooseUntil: u64(b.choose_until_ms), time: this.time, line });
      default:
        return undefined; // pause, resume: nothing to check here
    }
  }

  onCreated(b, line) {
    if (this.config !== null) {
      this.mismatch('format', {}, 'a second campaign_created', 'one', line);
      return;
    }
    const c = b.config || {};
    const winBps = Number(u64(c.win_bps));
    this.config = {
      title: str(c.title),
      stock: u64(c.stock),
      winBps,
      rate: Number(u64(c.admission_rate_per_s)),
      queueing: enumName(c.queueing, QUEUEINGS),
      opensAtMs: u64(c.opens_at_ms),
      maxEntries: u64(c.max_entries),
      holdS: u64(c.hold_s),
      draw: enumName(c.draw, DRAWS),
      entropySource: str(c.entropy_source),
      // Issue 15: items (none = one implicit item, id ''), quantities, choosing.
      items: (Array.isArray(c.items) ? c.items : []).map((it) => ({
        id: str(it.id),
        label: str(it.label),
        stock: u64(it.stock),
        perUserMax: Number(u64(it.per_user_max)),
      })),
      perUserMax: Number(u64(c.per_user_max)),
      choose: enumName(c.choose, CHOOSES),
      chooseS: u64(c.choose_s),
    };
    this.config.atClose = this.config.draw === 'DRAW_AT_CLOSE';
    const items = this.config.items;
    this.config.hasItems = items.length > 0;
    this.config.onAdmission = this.config.hasItems && this.config.choose === 'CHOOSE_ON_ADMISSION';
    this.config.itemIndex = new Map(items.map((it, i) => [it.id, i]));
    if (this.config.itemIndex.size !== items.length) this.mismatch('items', {}, 'an item id twice', 'unique item ids', line);
    if (this.config.hasItems) {
      if (this.config.stock !== 0n) this.mismatch('items', {}, 'stock ' + this.config.stock + ' with items', 'stock 0 (the items\' sum)', line);
      // The campaign's stock is the items' sum.
      this.config.stock = items.reduce((a, it) => a + it.stock, 0n);
    }
    if (winBps > 10000) this.mismatch('format', {}, 'win_bps ' + winBps, '0..10000', line);
    this.commitment = bytes(b.seed_commitment);
  }

  onPrequeued(b, line) {
    const user = str(b.user_id);
    if (this.config.queueing !== 'QUEUEING_RANDOM') {
      this.mismatch('prequeue', { user }, 'pre-queued', 'a FIFO queue has no pre-queue', line);
    }
    if (this.keyed.length > 0 || this.unkeyedSeen) {
      this.mismatch('prequeue', { user }, 'pre-queued after the opening', 'before it', line);
    }
    if (this.userPosition.has(user)) {
      this.mismatch('one_entry', { user }, 'a second entry', 'one entry per user', line);
      return;
    }
    if (this.closed) this.mismatch('close_reveal', { user }, 'pre-queued after the close', 'none', line);
    this.userPosition.set(user, 0);
    this.prequeuedAsk.set(user, { item: str(b.item_id), quantity: u64(b.quantity) });
    this.prequeued.push(user);
    this.prequeuedSet.add(user);
  }

  onEntered(b, line) {
    const user = str(b.user_id);
    const position = u64(b.position);
    const key = bytes(b.prequeue_key);
    const expected = BigInt(this.positions.length + 1);
    if (position !== expected) {
      this.mismatch('positions', { position: position.toString(), user }, position.toString(), expected.toString(), line);
    }
    if (this.closed && this.closedAt !== null) {
      this.mismatch('close_reveal', { position: position.toString(), user }, 'a position after the close', 'none', line);
    }
    const before = this.userPosition.get(user);
    const wasPrequeued = before === 0 && this.prequeuedSet.has(user);
    if (before !== undefined && !wasPrequeued) {
      this.mismatch('one_entry', { position: position.toString(), user }, 'a second position', 'position ' + before, line);
    }
    if (key.length > 0) {
      if (this.unkeyedSeen) {
        this.mismatch('prequeue', { position: position.toString(), user }, 'a pre-queue position after later arrivals', 'the first positions', line);
      }
      if (!wasPrequeued) {
        this.mismatch('prequeue', { position: position.toString(), user }, 'a prequeue key', 'only users of the pre-queue', line);
      }
      this.keyed.push(Number(position));
    } else {
      if (wasPrequeued) {
        this.mismatch('prequeue', { position: position.toString(), user }, 'no prequeue key', 'the key that ordered the pre-queue', line);
      }
      if (this.config.queueing === 'QUEUEING_RANDOM' && this.prequeued.length > 0 && this.keyed.length === 0) {
        this.mismatch('prequeue', { position: position.toString(), user }, 'a later arrival ahead of the pre-queue', 'the pre-queue first', line);
      }
      this.unkeyedSeen = true;
    }
    // What the entry asks for (choose=at_entry with items): its item and units.
    const item = str(b.item_id);
    const quantity = u64(b.quantity) || 1n;
    if (this.config.hasItems && !this.config.onAdmission) {
      const ask = this.prequeuedAsk.get(user);
      if (ask && ask.item !== '' && (ask.item !== item || (ask.quantity || 1n) !== quantity)) {
        this.mismatch('items', { position: position.toString(), user }, 'asks ' + quantity + ' of ' + item, 'as pre-queued: ' + (ask.quantity || 1n) + ' of ' + ask.item, line);
      }
      this.checkAsk(item, quantity, { position: position.toString(), user }, line);
    } else if (item !== '' || u64(b.quantity) > 0n) {
      this.mismatch('items', { position: position.toString(), user }, 'asks for ' + (item || 'units'), this.config.hasItems ? 'no item at entry (chosen when admitted)' : 'no item (the campaign has none)', line);
    }
    this.positions.push({ user, line, key: key.length > 0 ? key : null, timeMs: this.time, item, quantity });
    // Positions are indexed by their place in the ledger; a wrong number
    // was reported above.
    this.userPosition.set(user, this.positions.length);
  }

  onRejected(b, line) {
    this.rejected++;
    const reason = enumName(b.reason, REJECT_REASONS);
    this.rejectedByReason.set(reason, (this.rejectedByReason.get(reason) || 0) + 1);
    if (reason === 'REJECT_DUPLICATE' && this.config !== null) {
      const user = str(b.user_id);
      const had = this.userPosition.get(user);
      const said = u64(b.original_position);
      if (had === undefined) {
        this.mismatch('one_entry', { user }, 'rejected as a duplicate', 'the user has no entry', line);
      } else if (BigInt(had) !== said) {
        this.mismatch('one_entry', { user }, 'original position ' + said, 'position ' + had, line);
      }
    }
  }

  onAdmitted(b, line) {
    const position = u64(b.position);
    const user = str(b.user_id);
    const expected = BigInt(this.served + 1);
    if (this.pendingAdmit !== null) {
      this.mismatch('admissions', { position: this.pendingAdmit.position }, 'admitted without a draw', 'a draw_resolved', this.pendingAdmit.line);
    }
    if (position !== expected) {
      this.mismatch('admissions', { position: position.toString(), user }, 'admits ' + position, 'admits ' + expected, line);
    }
    const held = this.positions[Number(position) - 1];
    if (held === undefined) {
      this.mismatch('admissions', { position: position.toString(), user }, 'admitted', 'a position that was given', line);
    } else if (held.user !== user) {
      this.mismatch('admissions', { position: position.toString(), user }, 'user ' + user, 'user ' + held.user, line);
    }
    this.served = Number(position);
    this.pendingAdmit = { position: position.toString(), user, line };
  }

  onDraw(b, line) {
    const position = u64(b.position);
    const user = str(b.user_id);
    const atClose = this.config.atClose;
    if (atClose) {
      // A draw at close: every position, in order, right after the close; no admission.
      const expected = BigInt(this.served + 1);
      if (!this.closed) {
        this.mismatch('close_reveal', { position: position.toString(), user }, 'drawn while open', 'drawn at close', line);
      }
      if (position !== expected) {
        this.mismatch('admissions', { position: position.toString(), user }, 'draws ' + position, 'draws ' + expected, line);
      }
      const at = this.positions[Number(position) - 1];
      if (at && at.user !== user) {
        this.mismatch('admissions', { position: position.toString(), user }, 'user ' + user, 'user ' + at.user, line);
      }
      this.served = Number(position);
    } else {
      const a = this.pendingAdmit;
      if (a === null || a.position !== position.toString() || a.user !== user) {
        this.mismatch('admissions', { position: position.toString(), user }, 'drawn', 'drawn right after its admission', line);
      }
    }
    this.pendingAdmit = null;
    const held = this.positions[Number(position) - 1];
    this.timeline.push({
      kind: 'draw',
      position: position.toString(),
      // The draw is re-derived for the user who holds the position (a
      // wrong user in the event was reported above).
      user: held ? held.user : user,
      value: u64(b.draw_value),
      outcome: enumName(b.outcome, OUTCOMES),
      stockLeft: u64(b.stock_left),
      holdUntil: u64(b.hold_until_ms),
      rank: u64(b.waitlist_rank),
      item: str(b.item_id),
      quantity: u64(b.quantity),
      itemStockLeft: u64(b.item_stock_left),
      chooseUntil: u64(b.choose_until_ms),
      atClose,
      time: this.time,
      line,
    });
  }

  onStock(b, line) {
    this.timeline.push({
      kind: 'stock',
      delta: i64(b.delta),
      reason: enumName(b.reason, STOCK_REASONS),
      stockLeft: u64(b.stock_left),
      item: str(b.item_id),
      itemStockLeft: u64(b.item_stock_left),
      time: this.time,
      line,
    });
  }

  onCancel(b, line) {
    this.timeline.push({ kind: 'cancel', user: str(b.user_id), position: u64(b.position).toString(), time: this.time, line });
  }

  onClosed(b, line) {
    if (this.closed) this.mismatch('close_reveal', {}, 'closed twice', 'once', line);
    this.closed = true;
    this.closedAt = this.positions.length;
    this.closedEntries = u64(b.entries);
    this.merkleRoot = bytes(b.merkle_root);
    this.merkleLeaves = u64(b.merkle_leaves);
    this.entropyValue = str(b.entropy_value);
    this.closeLine = line;
    if (this.config.entropySource !== '' && this.entropyValue === '') {
      this.mismatch('close_reveal', {}, 'closed without an entropy value', 'the value of ' + this.config.entropySource, line);
    }
    const pending = this.prequeued.length - this.keyed.length;
    const expected = BigInt(this.positions.length + Math.max(0, pending));
    if (this.closedEntries !== expected) {
      this.mismatch('close_reveal', {}, 'entries ' + this.closedEntries, 'entries ' + expected, line);
    }
  }

  onRevealed(b, line) {
    if (this.seed !== null) {
      this.mismatch('close_reveal', {}, 'revealed twice', 'once', line);
      return;
    }
    this.seed = bytes(b.seed);
    this.revealLine = line;
    if (!this.closed) this.mismatch('close_reveal', {}, 'revealed before the close', 'after it', line);
    if (this.pendingAdmit !== null || this.served !== this.positions.length) {
      this.mismatch('close_reveal', {}, 'revealed with ' + (this.positions.length - this.served) + ' positions undrawn', 'every position drawn', line);
    }
  }

  // Runs the checks that need the seed (re-deriving every draw and key) and
  // returns the report. `progress(done, total)` is called as draws are re-derived.
  async finish(progress = () => {}) {
    const status = new Map();
    const reasons = new Map();
    const set = (id, s, why) => {
      status.set(id, s);
      if (why) reasons.set(id, why);
    };
    if (this.pendingAdmit !== null) {
      this.mismatch('admissions', { position: this.pendingAdmit.position }, 'admitted without a draw', 'a draw_resolved', this.pendingAdmit.line);
      this.pendingAdmit = null;
    }
    const haveCampaign = this.config !== null;
    const seedOk = this.seed !== null && this.seed.length === 32;
    let drawer = null;
    // The seed against its commitment.
    if (!haveCampaign) {
      set('seed', 'not_checked', 'no_campaign_created');
    } else if (this.seed === null) {
      set('seed', 'not_checked', 'not_revealed');
    } else if (!seedOk) {
      this.mismatch('seed', {}, this.seed.length + ' bytes', '32 bytes', this.revealLine);
    } else {
      const got = await commitmentOf(this.seed);
      const want = bytesToHex(this.commitment);
      if (got !== want) this.mismatch('seed', {}, 'SHA-256(seed) ' + got, 'commitment ' + want, this.revealLine);
      else drawer = await Drawer.create(this.seed);
    }
    const canDerive = drawer !== null;
    const whyNot = !haveCampaign ? 'no_campaign_created' : this.seed === null ? 'not_revealed' : 'seed_mismatch';

    // Pre-queue order (RANDOM): keys re-derived, ascending, the whole pre-queue.
    if (haveCampaign && this.config.queueing === 'QUEUEING_RANDOM') {
      const keyedUsers = this.keyed.map((p) => this.positions[p - 1].user);
      const keyedSet = new Set(keyedUsers);
      const stillWaiting = this.prequeued.filter((u) => !keyedSet.has(u));
      if (stillWaiting.length > 0 && (this.keyed.length > 0 || this.unkeyedSeen || this.closed)) {
        for (const user of stillWaiting.slice(0, 50)) {
          this.mismatch('prequeue', { user }, 'never given a position', 'a position at the opening', null);
        }
      }
      if (canDerive) {
        let previous = null;
        for (const p of this.keyed) {
          const at = this.positions[p - 1];
          const key = await drawer.prequeueKey(this.campaign, at.user);
          if (compareBytes(key, at.key) !== 0) {
            this.mismatch('prequeue', { position: String(p), user: at.user }, 'key ' + bytesToHex(at.key), 'key ' + bytesToHex(key), at.line);
          }
          if (previous !== null && compareBytes(previous, key) >= 0) {
            this.mismatch('prequeue', { position: String(p), user: at.user }, 'after a greater key', 'ascending prequeue keys', at.line);
          }
          previous = key;
        }
      } else if (this.keyed.length > 0) {
        set('prequeue', 'not_checked', whyNot);
      }
    } else if (haveCampaign) {
      set('prequeue', 'na', 'fifo');
    }

    // Every draw value and outcome, in ledger order, with the stock. A draw
    // at close is keyed with the committed entropy value (draw.h).
    const draws = this.timeline.filter((t) => t.kind === 'draw');
    const values = new Array(draws.length);
    let keyed = drawer;
    if (canDerive && haveCampaign && this.config.atClose) {
      keyed = await Drawer.create(await atCloseKey(this.seed, this.config.entropySource !== '', this.entropyValue));
    }
    if (canDerive) {
      const chunk = 512;
      for (let i = 0; i < draws.length; i += chunk) {
        const part = draws.slice(i, i + chunk);
        const got = await Promise.all(part.map((d) => (d.atClose ? keyed : drawer).drawValue(this.campaign, d.position, d.user)));
        for (let j = 0; j < got.length; j++) values[i + j] = got[j];
        progress(Math.min(i + chunk, draws.length), draws.length);
      }
    }
    const totals = {
      won: 0, lost: 0, sold_out: 0, cancelled: 0, waitlisted: 0, confirmed: 0, expired: 0, promoted: 0,
      restocked: 0n, under: 0, drawn: draws.length, admitted_to_choose: 0, chosen: 0, choices_expired: 0,
    };
    let perItem = new Map();
    // position -> rule outcome: OUTCOME_WON may become CANCELLED, CONFIRMED or EXPIRED.
    const outcomeOf = new Map();
    const holdOf = new Map(); // position -> the standing win's hold deadline (0n: final)
    const user = new Map(); // user -> { position, value, outcome, published }
    if (haveCampaign) {
      const threshold = winThreshold(this.config.winBps);
      const holdMs = this.config.holdS * 1000n;
      const deadline = (time) => (holdMs > 0n ? time + holdMs : 0n);
      let stock = this.config.stock;
      let d = 0;
      let selection = null; // the at-close rule's outcome per position
      const cfg = this.config;
      // Units per item (without items: one implicit item, id '', 1 unit an entry).
      perItem = new Map(
        (cfg.hasItems ? cfg.items : [{ id: '', stock: cfg.stock }]).map((it) => [
          it.id,
          { id: it.id, label: it.label || '', stock: it.stock, left: it.stock, taken: 0n, returned: 0n, restocked: 0n, confirmed: 0n },
        ]),
      );
      const itemOf = (id) => perItem.get(cfg.hasItems ? id : '');
      const waitlists = new Map(); // item -> [position by rank], by the rule
      const promotedOf = new Map(); // item -> promotions so far
      const unitsOf = new Map(); // position -> { item, quantity } its win took
      const chooseOf = new Map(); // position -> choice deadline, while admitted and not chosen
      const chooseDue = new MinHeap();
      // What a position asks for (at_entry; without items 1 unit of '').
      const askOf = (position) => {
        const at = this.positions[Number(position) - 1];
        return at ? { item: cfg.hasItems ? at.item : '', quantity: at.quantity || 1n } : { item: '', quantity: 1n };
      };
      // Takes `quantity` units of an item for `t.position`: never more than is left.
      const take = (t, itemId, quantity, what) => {
        const it = itemOf(itemId);
        if (!it) {
          this.mismatch('items', { position: t.position, user: t.user }, what + ' item ' + JSON.stringify(itemId), 'an item of the campaign', t.line);
          return;
        }
        if (it.left < quantity) {
          this.mismatch(cfg.hasItems ? 'items' : 'stock', { position: t.position, user: t.user }, what + ' ' + quantity + ' of ' + (itemId || 'the stock') + ' with ' + it.left + ' left', 'never more than is left (no item oversold)', t.line);
        }
        it.left -= quantity;
        it.taken += quantity;
        stock -= quantity;
        unitsOf.set(t.position, { item: it.id, quantity });
      };
      // A published item_stock_left against the walk.
      const itemLeftIs = (t, itemId) => {
        const it = itemOf(itemId);
        if (cfg.hasItems && it && t.itemStockLeft !== it.left) {
          this.mismatch('items', { position: t.position, user: t.user }, 'item_stock_left ' + t.itemStockLeft + ' of ' + itemId, 'item_stock_left ' + it.left, t.line);
        }
      };
      const chooseMs = cfg.chooseS * 1000n;
      // After a stock mismatch the walk follows the published stock (one
      // error reported once); without items the implicit item is the stock.
      const follow = (v) => {
        stock = v;
        if (!cfg.hasItems) perItem.get('').left = v;
      };
      // A standing win (the rule's WON, not given back, confirmed or expired).
      const standing = (t, what) => {
        const held = this.positions[Number(t.position) - 1];
        if (!held || held.user !== t.user) {
          this.mismatch('holds', { position: t.position, user: t.user }, what, 'the user of that position', t.line);
          return false;
        }
        if (outcomeOf.get(t.position) !== 'OUTCOME_WON') {
          this.mismatch('holds', { position: t.position, user: t.user }, what + ' of ' + (outcomeOf.get(t.position) || 'no draw'), 'a standing win', t.line);
          return false;
        }
        return true;
      };
      // Standing holds by deadline: the first event at or after a deadline
      // must be that hold's expiry (the answer's prologue: expiries, their
      // stock returns, then promotions).
      const holds = new MinHeap();
      const prologue = (t) =>
        t.kind === 'expire' || t.kind === 'promote' || t.kind === 'choice_expired' || (t.kind === 'stock' && t.reason === 'STOCK_HOLD_EXPIRED');
      for (const t of this.timeline) {
        if (t.time !== undefined && !prologue(t)) {
          while (holds.size() > 0 && holds.peek()[0] <= t.time) {
            const [due, pos] = holds.pop();
            if (outcomeOf.get(pos) === 'OUTCOME_WON' && holdOf.get(pos) === due) {
              const at = this.positions[Number(pos) - 1];
              this.mismatch('holds', { position: pos, user: at ? at.user : '' }, (t.what || t.kind) + ' at ' + t.time + ' before the expiry', 'the hold of ' + pos + ' expired first (deadline ' + due + ')', t.line);
            }
          }
          // Likewise an admission's choice deadline: its choice_expired first.
          while (chooseDue.size() > 0 && chooseDue.peek()[0] <= t.time) {
            const [due, pos] = chooseDue.pop();
            if (outcomeOf.get(pos) === 'OUTCOME_ADMITTED' && chooseOf.get(pos) === due) {
              const at = this.positions[Number(pos) - 1];
              this.mismatch('items', { position: pos, user: at ? at.user : '' }, (t.what || t.kind) + ' at ' + t.time + ' before the choice expiry', 'the choice of ' + pos + ' expired first (deadline ' + due + ')', t.line);
            }
          }
        }
        if (t.kind === 'time') continue;
        if (t.kind === 'draw') {
          const value = canDerive ? values[d] : t.value;
          d++;
          if (canDerive && value !== t.value) {
            this.mismatch('draw_values', { position: t.position, user: t.user }, t.value.toString(), value.toString(), t.line);
          }
          let outcome;
          let rank = 0n;
          if (t.atClose) {
            if (selection === null) {
              // Every at-close draw at once, with the stock left at close.
              const all = [];
              draws.forEach((x, j) => {
                if (x.atClose) all.push({ position: x.position, value: canDerive ? values[j] : x.value, ...askOf(x.position) });
              });
              // Per item with items (each item's units left at close).
              const left = cfg.hasItems ? new Map([...perItem.values()].map((it) => [it.id, it.left])) : stock;
              selection = atCloseSelection(all, this.config.winBps, left);
              const ranked = [...selection.entries()].filter(([, r]) => r.outcome === 'WAITLISTED').sort((a, b) => a[1].rank - b[1].rank);
              for (const [pos] of ranked) {
                const key = askOf(pos).item;
                if (!waitlists.has(key)) waitlists.set(key, []);
                waitlists.get(key).push(pos);
              }
            }
            const r = selection.get(t.position);
            outcome = 'OUTCOME_' + r.outcome;
            rank = BigInt(r.rank);
            if (value < threshold) totals.under++;
            if (r.outcome === 'WON') take(t, askOf(t.position).item, askOf(t.position).quantity, 'won');
          } else if (value < threshold) {
            totals.under++;
            if (cfg.onAdmission) {
              // Admitted to choose while units are left.
              outcome = stock > 0n ? 'OUTCOME_ADMITTED' : 'OUTCOME_SOLD_OUT';
            } else {
              const ask = askOf(t.position);
              const it = itemOf(ask.item);
              if (it && it.left >= ask.quantity) {
                outcome = 'OUTCOME_WON';
                take(t, ask.item, ask.quantity, 'won');
              } else {
                outcome = 'OUTCOME_SOLD_OUT';
              }
            }
          } else {
            outcome = 'OUTCOME_LOST';
          }
          const short = outcome.slice('OUTCOME_'.length);
          if (short === 'ADMITTED') totals.admitted_to_choose++;
          else totals[short.toLowerCase()]++;
          // The entry's item and units, as asked (at_entry with items).
          if (cfg.hasItems && !cfg.onAdmission) {
            const ask = askOf(t.position);
            if (t.item !== ask.item || (t.quantity || 1n) !== ask.quantity) {
              this.mismatch('items', { position: t.position, user: t.user }, (t.quantity || 1n) + ' of ' + t.item, ask.quantity + ' of ' + ask.item + ' (as entered)', t.line);
            }
            itemLeftIs(t, ask.item);
          }
          if (outcome === 'OUTCOME_ADMITTED') {
            const want = t.time + chooseMs;
            if (t.outcome === outcome && t.chooseUntil !== want) {
              this.mismatch('items', { position: t.position, user: t.user }, 'choose_until_ms ' + t.chooseUntil, 'choose_until_ms ' + want, t.line);
            }
            chooseOf.set(t.position, want);
            chooseDue.push([want, t.position]);
          } else if (t.chooseUntil !== 0n) {
            this.mismatch('items', { position: t.position, user: t.user }, 'choose_until_ms ' + t.chooseUntil, 'none (not admitted to choose)', t.line);
          }
          outcomeOf.set(t.position, outcome);
          user.set(t.user, { position: t.position, value, outcome: short, published: t.outcome.replace('OUTCOME_', ''), line: t.line });
          if (outcome !== t.outcome) {
            this.mismatch('outcomes', { position: t.position, user: t.user }, t.outcome.replace('OUTCOME_', ''), short, t.line);
          } else if (outcome === 'OUTCOME_WAITLISTED' && t.rank !== rank) {
            this.mismatch('outcomes', { position: t.position, user: t.user }, 'waitlist rank ' + t.rank, 'waitlist rank ' + rank, t.line);
          }
          if (t.stockLeft !== stock) {
            this.mismatch('stock', { position: t.position, user: t.user }, 'stock_left ' + t.stockLeft, 'stock_left ' + stock, t.line);
          }
          if (outcome === 'OUTCOME_WON') {
            const want = deadline(t.time);
            if (t.outcome === outcome && t.holdUntil !== want) {
              this.mismatch('holds', { position: t.position, user: t.user }, 'hold_until_ms ' + t.holdUntil, 'hold_until_ms ' + want, t.line);
            }
            holdOf.set(t.position, want);
            if (want > 0n) holds.push([want, t.position]);
          }
        } else if (t.kind === 'cancel') {
          const held = this.positions[Number(t.position) - 1];
          if (!held || held.user !== t.user) {
            this.mismatch('stock', { position: t.position, user: t.user }, 'cancelled', 'the user of that position', t.line);
          } else if (outcomeOf.get(t.position) !== 'OUTCOME_WON') {
            this.mismatch('stock', { position: t.position, user: t.user }, 'cancelled', 'only a standing win is cancelled', t.line);
          } else {
            const hold = holdOf.get(t.position) || 0n;
            if (hold > 0n && t.time >= hold) {
              this.mismatch('holds', { position: t.position, user: t.user }, 'given back at ' + t.time, 'before the hold deadline ' + hold, t.line);
            }
            outcomeOf.set(t.position, 'CANCELLED');
            totals.cancelled++;
            const u = user.get(t.user);
            if (u) u.cancelled = true;
          }
          this.pendingCancel = t;
        } else if (t.kind === 'confirm') {
          if (standing(t, 'confirmed')) {
            const hold = holdOf.get(t.position) || 0n;
            if (hold > 0n && t.time >= hold) {
              this.mismatch('holds', { position: t.position, user: t.user }, 'confirmed at ' + t.time, 'before the hold deadline ' + hold, t.line);
            }
            const pass = `${this.campaign}:${t.position}`;
            if (t.passId !== pass) this.mismatch('holds', { position: t.position, user: t.user }, 'pass ' + t.passId, 'pass ' + pass, t.line);
            outcomeOf.set(t.position, 'CONFIRMED');
            totals.confirmed++;
            const u = unitsOf.get(t.position);
            if (u) perItem.get(u.item).confirmed += u.quantity;
          }
        } else if (t.kind === 'expire') {
          if (standing(t, 'expired')) {
            const hold = holdOf.get(t.position) || 0n;
            if (hold === 0n || t.holdUntil !== hold) {
              this.mismatch('holds', { position: t.position, user: t.user }, 'hold_until_ms ' + t.holdUntil, hold === 0n ? 'a held win' : 'hold_until_ms ' + hold, t.line);
            } else if (t.time < hold) {
              this.mismatch('holds', { position: t.position, user: t.user }, 'expired at ' + t.time, 'at or after ' + hold, t.line);
            }
            outcomeOf.set(t.position, 'EXPIRED');
            totals.expired++;
          }
          this.pendingCancel = t;
        } else if (t.kind === 'promote') {
          // The head of its item's waitlist, its whole quantity, after the at-close draw.
          const ask = askOf(t.position);
          if (cfg.hasItems && (t.item !== ask.item || (t.quantity || 1n) !== ask.quantity)) {
            this.mismatch('items', { position: t.position, user: t.user }, 'promoted with ' + (t.quantity || 1n) + ' of ' + t.item, ask.quantity + ' of ' + ask.item + ' (as entered)', t.line);
          }
          const promoted = (promotedOf.get(ask.item) || 0n) + 1n;
          promotedOf.set(ask.item, promoted);
          const head = (waitlists.get(ask.item) || [])[Number(promoted) - 1];
          if (t.rank !== promoted || head !== t.position) {
            this.mismatch('holds', { position: t.position, user: t.user }, 'promoted rank ' + t.rank + ' (position ' + t.position + ')', head ? 'rank ' + promoted + ' (position ' + head + ')' : 'no one left on the waitlist', t.line);
          }
          if (outcomeOf.get(t.position) !== 'OUTCOME_WAITLISTED') {
            this.mismatch('holds', { position: t.position, user: t.user }, 'promoted', 'a waitlisted entry', t.line);
          }
          const room = itemOf(ask.item);
          if (!room || room.left < ask.quantity) this.mismatch('holds', { position: t.position, user: t.user }, 'promoted with ' + (room ? room.left : 0n) + ' units left', ask.quantity + ' units that came back', t.line);
          take(t, ask.item, ask.quantity, 'promoted');
          itemLeftIs(t, ask.item);
          if (t.stockLeft !== stock) {
            this.mismatch('stock', { position: t.position, user: t.user }, 'stock_left ' + t.stockLeft, 'stock_left ' + stock, t.line);
            follow(t.stockLeft);
          }
          const want = deadline(t.time);
          if (t.holdUntil !== want) this.mismatch('holds', { position: t.position, user: t.user }, 'hold_until_ms ' + t.holdUntil, 'hold_until_ms ' + want, t.line);
          outcomeOf.set(t.position, 'OUTCOME_WON');
          holdOf.set(t.position, want);
          if (want > 0n) holds.push([want, t.position]);
          totals.promoted++;
        } else if (t.kind === 'choose') {
          // An admitted position takes its units, before its deadline, once.
          const held = this.positions[Number(t.position) - 1];
          const was = outcomeOf.get(t.position);
          if (!cfg.onAdmission) {
            this.mismatch('items', { position: t.position, user: t.user }, 'item_chosen', 'choices only with choose=on_admission', t.line);
          } else if (!held || held.user !== t.user) {
            this.mismatch('items', { position: t.position, user: t.user }, 'chosen', 'the user of that position', t.line);
          } else if (was !== 'OUTCOME_ADMITTED') {
            this.mismatch('items', { position: t.position, user: t.user }, 'chosen when ' + (was || 'not drawn'), unitsOf.has(t.position) ? 'one choice per admission' : 'an admitted position', t.line);
          } else {
            const due = chooseOf.get(t.position);
            if (t.time >= due) this.mismatch('items', { position: t.position, user: t.user }, 'chosen at ' + t.time, 'before the deadline ' + due, t.line);
            const quantity = t.quantity || 1n;
            this.checkAsk(t.item, quantity, { position: t.position, user: t.user }, t.line);
            take(t, t.item, quantity, 'chose');
            itemLeftIs(t, t.item);
            if (t.stockLeft !== stock) {
              this.mismatch('stock', { position: t.position, user: t.user }, 'stock_left ' + t.stockLeft, 'stock_left ' + stock, t.line);
              follow(t.stockLeft);
            }
            const want = deadline(t.time);
            if (t.holdUntil !== want) this.mismatch('holds', { position: t.position, user: t.user }, 'hold_until_ms ' + t.holdUntil, 'hold_until_ms ' + want, t.line);
            outcomeOf.set(t.position, 'OUTCOME_WON');
            chooseOf.delete(t.position);
            holdOf.set(t.position, want);
            if (want > 0n) holds.push([want, t.position]);
            totals.chosen++;
            const u = user.get(t.user);
            if (u) u.chosen = { item: t.item, quantity: quantity.toString() };
          }
        } else if (t.kind === 'choice_expired') {
          const was = outcomeOf.get(t.position);
          const due = chooseOf.get(t.position);
          if (was !== 'OUTCOME_ADMITTED' || due === undefined) {
            this.mismatch('items', { position: t.position, user: t.user }, 'choice expired when ' + (was || 'not drawn'), 'an admitted position that has not chosen', t.line);
          } else {
            if (t.chooseUntil !== due) this.mismatch('items', { position: t.position, user: t.user }, 'choose_until_ms ' + t.chooseUntil, 'choose_until_ms ' + due, t.line);
            if (t.time < due) this.mismatch('items', { position: t.position, user: t.user }, 'expired at ' + t.time, 'at or after ' + due, t.line);
            outcomeOf.set(t.position, 'CHOICE_EXPIRED');
            chooseOf.delete(t.position);
            totals.choices_expired++;
            const u = user.get(t.user);
            if (u) u.choiceExpired = true;
          }
        } else if (t.kind === 'stock') {
          if (t.delta <= 0n) {
            this.mismatch('stock', {}, 'delta ' + t.delta, 'a positive delta', t.line);
          }
          // Returns give back exactly the units the win took, to its item.
          const back = this.pendingCancel ? unitsOf.get(this.pendingCancel.position) : undefined;
          const units = back ? back.quantity : 1n;
          let into = cfg.hasItems ? t.item : '';
          if (t.reason === 'STOCK_HOLD_EXPIRED' || t.reason === 'STOCK_CANCELLATION') {
            const expire = t.reason === 'STOCK_HOLD_EXPIRED';
            if (!this.pendingCancel || this.pendingCancel.kind !== (expire ? 'expire' : 'cancel') || t.delta !== units) {
              this.mismatch('stock', {}, t.reason + ' ' + t.delta, '+' + units + (expire ? ' right after an expired hold' : ' right after a cancellation'), t.line);
            }
            if (back && cfg.hasItems && t.item !== back.item) {
              this.mismatch('items', { position: this.pendingCancel.position }, 'returned to ' + JSON.stringify(t.item), 'returned to ' + back.item, t.line);
            }
            if (back) into = back.item;
            const it = itemOf(into);
            if (it && t.delta > 0n) it.returned += t.delta;
          } else if (t.reason === 'STOCK_RESTOCK') {
            totals.restocked += t.delta > 0n ? t.delta : 0n;
            const it = itemOf(into);
            if (!it) this.mismatch('items', {}, 'restock of ' + JSON.stringify(t.item), 'an item of the campaign', t.line);
            else if (t.delta > 0n) it.restocked += t.delta;
          } else {
            this.mismatch('stock', {}, t.reason, 'STOCK_RESTOCK, STOCK_CANCELLATION or STOCK_HOLD_EXPIRED', t.line);
          }
          this.pendingCancel = null;
          stock += t.delta;
          const it = itemOf(into);
          if (it) {
            it.left += t.delta;
            itemLeftIs(t, into);
          }
          if (t.stockLeft !== stock) {
            this.mismatch('stock', {}, 'stock_left ' + t.stockLeft, 'stock_left ' + stock, t.line);
            follow(t.stockLeft); // follow the published stock so one error is reported once
          }
        }
        if (t.kind !== 'cancel' && t.kind !== 'stock' && t.kind !== 'expire') this.pendingCancel = null;
      }
      totals.stockLeft = stock;
      // Per item: stock + restocked = left + taken − returned, never below 0,
      // and no more units confirmed than are out.
      for (const it of cfg.hasItems ? perItem.values() : []) {
        const out = it.taken - it.returned;
        if (it.left < 0n || it.stock + it.restocked !== it.left + out || out > it.stock + it.restocked) {
          this.mismatch('items', { item: it.id }, 'left ' + it.left + ', out ' + out, 'stock ' + it.stock + ' + restocked ' + it.restocked + ' = left + out, left >= 0', null);
        }
        if (it.confirmed > out) this.mismatch('items', { item: it.id }, 'confirmed ' + it.confirmed, 'at most the ' + out + ' units out', null);
      }
    }

    // The Merkle root of the entries (receipts), from every position's
    // queue_entered: leaf = position | its event's time_ms | user.
    let merkleRootHex = null;
    if (!haveCampaign) set('merkle', 'not_checked', 'no_campaign_created');
    else if (!this.closed) set('merkle', 'not_checked', 'not_closed');
    else if (this.merkleRoot === null || this.merkleRoot.length === 0) set('merkle', 'not_checked', 'no_merkle');
    else {
      merkleRootHex = bytesToHex(this.merkleRoot);
      const leaves = Number(this.merkleLeaves);
      if (leaves !== this.closedAt) {
        this.mismatch('merkle', {}, 'merkle_leaves ' + leaves, 'merkle_leaves ' + this.closedAt, this.closeLine);
      }
      const b = new RootBuilder();
      const n = Math.min(leaves, this.positions.length);
      for (let i = 0; i < n; i++) {
        const p = this.positions[i];
        await b.add(await leafHash(leafText(i + 1, p.timeMs, p.user)));
      }
      const got = bytesToHex(await b.root());
      if (got !== merkleRootHex) this.mismatch('merkle', {}, 'merkle_root ' + merkleRootHex, 'merkle_root ' + got, this.closeLine);
    }

    // Statuses from what was found.
    const found = (id) => this.mismatchByCheck.get(id) || 0;
    const verdict = (id, fallback = 'ok') => {
      if (status.has(id)) return;
      set(id, found(id) > 0 ? 'mismatch' : fallback);
    };
    if (this.unknownBodies.size > 0) {
      set('format', found('format') > 0 ? 'mismatch' : 'not_checked', 'unknown_event');
    }
    verdict('format');
    if (!haveCampaign) {
      for (const id of ['positions', 'one_entry', 'prequeue', 'admissions', 'outcomes', 'stock', 'holds', 'items', 'close_reveal']) {
        set(id, 'not_checked', 'no_campaign_created');
      }
    }
    verdict('seed');
    verdict('positions');
    verdict('one_entry');
    verdict('prequeue');
    verdict('admissions');
    if (!canDerive) set('draw_values', 'not_checked', whyNot);
    verdict('draw_values');
    // Outcomes follow from the published values when the seed is missing:
    // a partial check, so it is reported as not checked.
    if (!canDerive && found('outcomes') === 0 && found('stock') === 0) set('outcomes', 'not_checked', whyNot);
    verdict('outcomes');
    verdict('stock');
    verdict('holds');
    if (haveCampaign && !this.config.hasItems && found('items') === 0) set('items', 'na', 'no_items');
    verdict('items');
    if (haveCampaign && (!this.closed || this.seed === null) && found('close_reveal') === 0) {
      set('close_reveal', 'not_checked', this.closed ? 'not_revealed' : 'not_closed');
    }
    verdict('close_reveal');
    verdict('merkle');

    // The observed rate of draws under the threshold against the configured rate.
    const n = draws.length;
    const k = totals.under;
    const configured = haveCampaign ? this.config.winBps / 10000 : 0;
    const [lo, hi] = wilson(k, n);
    const rate = { n, k, observed: n > 0 ? k / n : 0, lo, hi, configured, inside: configured >= lo && configured <= hi };
    if (!canDerive) set('rate', 'not_checked', whyNot);
    else if (n === 0) set('rate', 'not_checked', 'no_draws');
    else set('rate', rate.inside ? 'ok' : 'outside');
    set('timing', 'not_checked', 'needs_commands');
    set('completeness', 'not_checked', 'needs_commands');

    const checks = CHECKS.map((id) => ({ id, status: status.get(id), reason: reasons.get(id) || null, mismatches: found(id) }));
    const everyDrawChecks =
      canDerive &&
      n > 0 &&
      this.mismatchCount === 0 &&
      checks.every(
        (c) =>
          c.status === 'ok' ||
          c.status === 'na' ||
          c.id === 'timing' ||
          c.id === 'completeness' ||
          c.id === 'rate' ||
          (c.id === 'merkle' && c.reason === 'no_merkle'),
      );
    return {
      campaign: this.campaign,
      config: this.config,
      lines: this.lines,
      seedHex: this.seed ? bytesToHex(this.seed) : null,
      commitmentHex: this.commitment ? bytesToHex(this.commitment) : null,
      merkleRootHex,
      entropyValue: this.entropyValue,
      totals: {
        ...totals,
        positions: this.positions.length,
        prequeued: this.prequeued.length,
        admitted: this.served,
        rejected: this.rejected,
        restocked: totals.restocked.toString(),
        stockLeft: totals.stockLeft !== undefined ? totals.stockLeft.toString() : null,
        // Per item (issue 15; one implicit item '' without items), in units.
        items: this.config && this.config.hasItems
          ? [...perItem.values()].map((it) => ({
            id: it.id,
            label: it.label,
            stock: it.stock.toString(),
            restocked: it.restocked.toString(),
            left: it.left.toString(),
            taken: it.taken.toString(),
            returned: it.returned.toString(),
            confirmed: it.confirmed.toString(),
          }))
          : [],
      },
      rejectedByReason: Object.fromEntries(this.rejectedByReason),
      rate,
      checks,
      mismatches: this.mismatches,
      mismatchCount: this.mismatchCount,
      unknownBodies: Object.fromEntries(this.unknownBodies),
      everyDrawChecks,
      users: user,
      positions: this.positions,
    };
  }
}
