// The verifier's ledger check (api/web/static/js/ledger_check.js) on issue
// 15's items, without a browser: small exports written by hand (values drawn
// with draw.js from a known seed) for choose=on_admission (admissions, item
// choices, a choice that expires), choose=at_entry (quantities all or
// nothing, SOLD_OUT when the item has fewer units left) and an at-close draw
// per item with a promotion; then tampered copies: an oversold slot, a choice
// after its deadline, a second choice, a return of the wrong quantity, an
// event before a due choice expiry. The browser test items_test.mjs checks
// the engine's own exports. Run: node --test tests/browser/unit/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const js = path.join(here, '..', '..', '..', 'api', 'web', 'static', 'js');
const D = await import(path.join(js, 'draw.js'));
const { LedgerCheck } = await import(path.join(js, 'ledger_check.js'));

const SEED = new Uint8Array(32).map((_, i) => i + 1);
const b64 = (u8) => Buffer.from(u8).toString('base64');
const T0 = 1_800_000_000_000;

// An export builder: ev(time offset ms, body name, body).
function ledger(id) {
  const lines = [];
  let seq = 0;
  return {
    lines,
    ev(dt, kind, body) {
      lines.push(JSON.stringify({ campaign_id: id, sequence: String(++seq), time_ms: String(T0 + dt), [kind]: body }));
    },
  };
}

async function check(lines) {
  const c = new LedgerCheck();
  for (const l of lines) c.addLine(l);
  return c.finish();
}

const status = (r, id) => r.checks.find((c) => c.id === id).status;

// Three users admitted to a pop-up of slots a (2) and b (1): u1 takes 2 of a,
// u2 1 of b, u3 lets the 10 s pass.
async function popUp() {
  const id = 'popup';
  const L = ledger(id);
  const dr = await D.Drawer.create(SEED);
  L.ev(0, 'campaign_created', {
    config: {
      title: 'Pop-up', stock: '0', win_bps: 10000, admission_rate_per_s: 0,
      items: [{ id: 'a', label: '14:00', stock: '2' }, { id: 'b', label: '14:30', stock: '1' }],
      per_user_max: 2, choose: 'CHOOSE_ON_ADMISSION', choose_s: 10,
    },
    seed_commitment: b64(Buffer.from(await D.commitmentOf(SEED), 'hex')),
  });
  for (let p = 1; p <= 3; p++) {
    const user = `u${p}`;
    L.ev(p, 'queue_entered', { user_id: user, position: String(p) });
    L.ev(p, 'entry_admitted', { user_id: user, position: String(p) });
    const value = await dr.drawValue(id, String(p), user);
    L.ev(p, 'draw_resolved', { user_id: user, position: String(p), draw_value: value.toString(), outcome: 'OUTCOME_ADMITTED', stock_left: '3', choose_until_ms: String(T0 + p + 10000) });
  }
  L.ev(2000, 'item_chosen', { user_id: 'u1', position: '1', item_id: 'a', quantity: 2, item_stock_left: '0', stock_left: '1' });
  L.ev(3000, 'item_chosen', { user_id: 'u2', position: '2', item_id: 'b', quantity: 1, item_stock_left: '0', stock_left: '0' });
  L.ev(10003, 'choice_expired', { user_id: 'u3', position: '3', choose_until_ms: String(T0 + 10003) });
  L.ev(20000, 'campaign_closed', { entries: '3' });
  L.ev(20001, 'seed_revealed', { seed: b64(SEED) });
  return L.lines;
}

test('on_admission: admissions, choices and an expired choice check out', async () => {
  const r = await check(await popUp());
  assert.equal(r.mismatchCount, 0, JSON.stringify(r.mismatches.slice(0, 3)));
  assert.equal(status(r, 'items'), 'ok');
  assert.equal(r.totals.admitted_to_choose, 3);
  assert.equal(r.totals.chosen, 2);
  assert.equal(r.totals.choices_expired, 1);
  assert.deepEqual(r.totals.items.map((i) => [i.id, i.left, i.taken]), [['a', '0', '2'], ['b', '0', '1']]);
});

test('on_admission: an oversold slot, a late choice, a second choice, an event before a due expiry', async () => {
  const lines = await popUp();
  const at = (kind, user) => lines.findIndex((l) => l.includes(`"${kind}"`) && l.includes(`"${user}"`));
  const edit = (i, f) => lines.map((l, j) => (j === i ? JSON.stringify(f(JSON.parse(l))) : l));
  // u2 takes a (full after u1).
  let r = await check(edit(at('item_chosen', 'u2'), (e) => ({ ...e, item_chosen: { ...e.item_chosen, item_id: 'a' } })));
  assert.ok(r.mismatches.some((m) => m.check === 'items' && /oversold/.test(m.expected)), JSON.stringify(r.mismatches));
  assert.equal(status(r, 'items'), 'mismatch');
  // u2 chooses after its deadline.
  r = await check(edit(at('item_chosen', 'u2'), (e) => ({ ...e, time_ms: String(T0 + 10002) })));
  assert.ok(r.mismatches.some((m) => m.check === 'items' && /before the deadline/.test(m.expected)), JSON.stringify(r.mismatches));
  // u1 chooses twice.
  const twice = [...lines];
  twice.splice(at('item_chosen', 'u2') + 1, 0, lines[at('item_chosen', 'u1')].replace('"sequence":"', '"sequence":"1'));
  r = await check(twice.map((l, j) => (j > at('item_chosen', 'u2') + 1 ? l.replace(/"sequence":"(\d+)"/, (_, n) => `"sequence":"${Number(n) + 100}"`) : l)));
  assert.ok(r.mismatches.some((m) => m.check === 'items' && /one choice per admission/.test(m.expected)), JSON.stringify(r.mismatches));
  // The close before u3's expiry (the expiry must come first).
  const i = at('choice_expired', 'u3');
  const moved = [...lines];
  [moved[i], moved[i + 1]] = [moved[i + 1], moved[i]];
  const seqs = lines.map((l) => JSON.parse(l).sequence);
  r = await check(moved.map((l, j) => JSON.stringify({ ...JSON.parse(l), sequence: seqs[j] })));
  assert.ok(r.mismatches.some((m) => m.check === 'items' && /expired first/.test(m.expected)), JSON.stringify(r.mismatches));
});

// at_entry: slot a has 3; u1 asks 2 (won), u2 asks 2 (sold out: 1 left, all
// or nothing), u3 asks 1 (won), then u1 gives back its 2.
async function atEntry({ returned = '2' } = {}) {
  const id = 'sizes';
  const L = ledger(id);
  const dr = await D.Drawer.create(SEED);
  L.ev(0, 'campaign_created', {
    config: { stock: '0', win_bps: 10000, items: [{ id: 'a', stock: '3' }, { id: 'b', stock: '1' }], per_user_max: 2, choose: 'CHOOSE_AT_ENTRY' },
    seed_commitment: b64(Buffer.from(await D.commitmentOf(SEED), 'hex')),
  });
  const asks = [['u1', 2, 'WON', '1'], ['u2', 2, 'SOLD_OUT', '1'], ['u3', 1, 'WON', '0']];
  let total = 4;
  for (const [k, [user, q, outcome, left]] of asks.entries()) {
    const p = String(k + 1);
    L.ev(k + 1, 'queue_entered', { user_id: user, position: p, item_id: 'a', quantity: q });
    L.ev(k + 1, 'entry_admitted', { user_id: user, position: p });
    if (outcome === 'WON') total -= q;
    const value = await dr.drawValue(id, p, user);
    L.ev(k + 1, 'draw_resolved', { user_id: user, position: p, draw_value: value.toString(), outcome: `OUTCOME_${outcome}`, stock_left: String(total), item_id: 'a', quantity: q, item_stock_left: left });
  }
  L.ev(100, 'entry_cancelled', { user_id: 'u1', position: '1' });
  L.ev(100, 'stock_changed', { delta: returned, reason: 'STOCK_CANCELLATION', stock_left: String(total + Number(returned)), item_id: 'a', item_stock_left: returned });
  L.ev(200, 'stock_changed', { delta: '2', reason: 'STOCK_RESTOCK', stock_left: String(total + Number(returned) + 2), item_id: 'b', item_stock_left: '3' });
  L.ev(300, 'campaign_closed', { entries: '3' });
  L.ev(301, 'seed_revealed', { seed: b64(SEED) });
  return L.lines;
}

test('at_entry: quantities all or nothing, exact returns, restock per item', async () => {
  const r = await check(await atEntry());
  assert.equal(r.mismatchCount, 0, JSON.stringify(r.mismatches.slice(0, 3)));
  assert.equal(status(r, 'items'), 'ok');
  assert.deepEqual(r.totals.items.map((i) => [i.id, i.left, i.taken, i.returned, i.restocked]), [['a', '2', '3', '2', '0'], ['b', '3', '0', '0', '2']]);
  const wrong = await check(await atEntry({ returned: '1' }));
  assert.ok(wrong.mismatches.some((m) => m.check === 'stock' && /\+2 right after a cancellation/.test(m.expected)), JSON.stringify(wrong.mismatches));
});

test('no items: the items check is not applicable and the old walk is unchanged', async () => {
  const id = 'plain';
  const L = ledger(id);
  const dr = await D.Drawer.create(SEED);
  L.ev(0, 'campaign_created', { config: { stock: '1', win_bps: 10000 }, seed_commitment: b64(Buffer.from(await D.commitmentOf(SEED), 'hex')) });
  for (const [k, user] of ['x', 'y'].entries()) {
    const p = String(k + 1);
    L.ev(k + 1, 'queue_entered', { user_id: user, position: p });
    L.ev(k + 1, 'entry_admitted', { user_id: user, position: p });
    L.ev(k + 1, 'draw_resolved', { user_id: user, position: p, draw_value: (await dr.drawValue(id, p, user)).toString(), outcome: k === 0 ? 'OUTCOME_WON' : 'OUTCOME_SOLD_OUT', stock_left: '0' });
  }
  L.ev(10, 'campaign_closed', { entries: '2' });
  L.ev(11, 'seed_revealed', { seed: b64(SEED) });
  const r = await check(L.lines);
  assert.equal(r.mismatchCount, 0, JSON.stringify(r.mismatches.slice(0, 3)));
  assert.equal(status(r, 'items'), 'na');
  assert.deepEqual(r.totals.items, []);
});

test('at close with items: per item selection (whole quantities) and waitlists', () => {
  const threshold = D.winThreshold(10000);
  const entries = [
    { position: 1, value: 5n, item: 'a', quantity: 2 },
    { position: 2, value: 1n, item: 'a', quantity: 2 },
    { position: 3, value: 3n, item: 'a', quantity: 1 },
    { position: 4, value: 2n, item: 'b', quantity: 1 },
    { position: 5, value: threshold, item: 'b', quantity: 1 },
  ];
  const s = D.atCloseSelection(entries, 10000, new Map([['a', 3n], ['b', 1n]]));
  // a: pos 2 (value 1) takes 2, pos 3 (value 3) takes 1, pos 1 waits (rank 1 of a).
  assert.deepEqual([...s.entries()].sort(), [
    ['1', { outcome: 'WAITLISTED', rank: 1 }],
    ['2', { outcome: 'WON', rank: 0 }],
    ['3', { outcome: 'WON', rank: 0 }],
    ['4', { outcome: 'WON', rank: 0 }],
    ['5', { outcome: 'LOST', rank: 0 }],
  ]);
});
