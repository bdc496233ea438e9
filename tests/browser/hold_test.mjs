// A held win in the waiting room, in a real browser against a real ticketd:
// a campaign with a 2-second hold; the page user enters through the page and
// wins; the page shows "Pay within 00:0s" counting down, the signed pass and
// the give-back button; when the deadline passes the page says the hold
// expired at once, and the engine's expiry (its ticker) then reaches the page
// over the live channel as the status "expired" — the same as the API's.
// A second user's win is confirmed by the shop: its page says confirmed.
// After close and reveal, the verifier's checker (ledger_check.js) finds the
// expiry after its deadline and the confirmation before its own; the export
// without the expiry is caught (the next event came after the deadline).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { run, until, assert, assertEqual, log, repoRoot, exportOf } from './harness.mjs';

const js = (f) => pathToFileURL(path.join(repoRoot, 'api', 'web', 'static', 'js', f)).href;


const C = 'held';
const HOLD_S = 2;

run('hold', async (h) => {
  const srv = await h.ticketd({ flags: ['--tick-ms', '100'] });
  const api = h.api(srv);
  const admin = await h.token('ops', { admin: true });

  await h.step('a campaign whose winners have 2 s to pay', async () => {
    const c = await api.createCampaign(admin, { id: C, title: 'Held drop', stock: 5, win_bps: 10000, admission_rate_per_s: 0, hold_s: HOLD_S });
    const got = c.hold_s !== undefined ? c : await api.campaign(C);
    assertEqual(got.hold_s, HOLD_S, 'campaign JSON hold_s');
  });

  const page = await h.page({ name: 'hold' });
  let wonAt;
  await h.step('enter through the page: won, with a countdown, the pass and the give-back button', async () => {
    await page.goto(`${srv.url}/drops/${C}`);
    await page.waitFor('#dev-form:not([hidden])');
    await page.type('#dev-user', 'payer');
    await page.click('#dev-submit');
    await page.waitFor('#enter:not([hidden])');
    await page.click('#enter-btn');
    await page.waitFor('#outcome-text[data-outcome="won"]');
    wonAt = Date.now();
    const first = await page.text('#hold-left');
    assert(/^Pay within 00:0[12]$/.test(first), `countdown shown: "${first}"`);
    assert(await page.visible('#pass'), 'the pass is shown while the hold lasts');
    assert(await page.visible('#leave'), 'the give-back button is shown');
    assert(/held for you until/.test(await page.text('#hold-note')), 'the deadline is named');
    const me = await api.entry(await h.token('payer'), C);
    assertEqual(me.status, 'won', 'API status');
    assert(me.hold_until_ms > 0, 'API hold_until_ms');
    await page.screenshot('hold-countdown');
  });

  await h.step('the deadline passes: the page says the hold expired, then the engine says expired', async () => {
    await page.waitFor('#hold-left[data-state="expired"]', { timeout: 5000 });
    const took = (Date.now() - wonAt) / 1000;
    log(`  expired shown ${took.toFixed(1)} s after the win`);
    assert(took <= HOLD_S + 1.5, `the expiry is shown at the deadline (${took.toFixed(1)} s)`);
    assert(/hold has expired/.test(await page.text('#hold-left')), 'expired message');
    assert(!(await page.visible('#pass')), 'no pass after the deadline');
    assert(!(await page.visible('#leave')), 'no give-back after the deadline');
    // The engine's ticker expires the hold; the live channel brings it.
    await page.waitFor('#outcome-text[data-outcome="expired"]', { timeout: 8000 });
    assert(/hold expired before payment/.test(await page.text('#outcome-text')), 'expired outcome text');
    assert(!(await page.visible('#hold')), 'no countdown once expired');
    const me = await api.entry(await h.token('payer'), C);
    assertEqual(me.status, 'expired', 'API status expired');
    const c = await api.campaign(C);
    assertEqual(c.expired, 1, 'campaign expired counter');
    assertEqual(c.stock_left, 5, 'the unit went back to the stock');
    await page.screenshot('hold-expired');
  });

  await h.step('the shop confirms another win in time: its page says confirmed (Korean too)', async () => {
    const tok = await h.token('buyer');
    // A longer hold for this one: a new campaign would do, but the same
    // campaign's 2 s is enough when confirmed at once.
    const entered = await api.call('POST', `/v1/campaigns/${C}/entries`, { token: tok, headers: { Prefer: 'wait=5' } });
    assert(['won', 'queued'].includes(entered.body.status), `entered: ${JSON.stringify(entered.body)}`);
    const me = await until('the win', async () => {
      const e = await api.entry(tok, C);
      return e.status === 'won' ? e : false;
    });
    const conf = await api.call('POST', `/v1/campaigns/${C}/confirmations`, {
      token: admin,
      body: { user: 'buyer', pass_id: `${C}:${me.position}` },
      headers: { 'Idempotency-Key': 'confirm-buyer-1' },
    });
    assertEqual(conf.body.status, 'confirmed', 'confirmation answer');
    const p2 = await h.page({ name: 'buyer', lang: 'ko' });
    await p2.goto(`${srv.url}/drops/${C}`);
    await p2.waitFor('#dev-form:not([hidden])');
    await p2.type('#dev-user', 'buyer');
    await p2.click('#dev-submit');
    await p2.waitFor('#outcome-text[data-outcome="confirmed"]');
    assert(/구매가 확정/.test(await p2.text('#outcome-text')), `Korean confirmed text: ${await p2.text('#outcome-text')}`);
    assert(!(await p2.visible('#hold')), 'no countdown once confirmed');
    assert(!(await p2.visible('#leave')), 'no give-back once confirmed');
  });

  await h.step('closed and revealed: the checker agrees with the holds; a ledger without the expiry is caught', async () => {
    await api.close(admin, C);
    await api.reveal(admin, C);
    await api.waitCampaign(C, 'revealed', (c) => !!c.seed);
    const { LedgerCheck } = await import(js('ledger_check.js'));
    const lines = (await exportOf(srv, C)).trimEnd().split('\n');
    const check = async (ls) => {
      const c = new LedgerCheck();
      for (const l of ls) c.addLine(l);
      return c.finish();
    };
    const good = await check(lines);
    assertEqual(good.mismatchCount, 0, `mismatches ${JSON.stringify(good.mismatches.slice(0, 3))}`);
    assert(good.everyDrawChecks, 'every draw checks out');
    assertEqual([good.totals.expired, good.totals.confirmed], [1, 1], 'one expiry, one confirmation');
    const i = lines.findIndex((l) => l.includes('"hold_expired"'));
    assert(i > 0 && lines[i + 1].includes('STOCK_HOLD_EXPIRED'), 'the expiry and its unit');
    const bad = await check([...lines.slice(0, i), ...lines.slice(i + 2)]);
    const holds = bad.mismatches.filter((m) => m.check === 'holds');
    assert(holds.length > 0, `the missing expiry is caught: ${JSON.stringify(bad.mismatches.slice(0, 3))}`);
    log(`  without the expiry: ${holds[0].published} / ${holds[0].expected}`);
  });
});
