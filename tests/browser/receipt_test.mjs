// Receipts and the at-close draw on the verifier page (/verify/{id}), in a
// real browser against a real ticketd: an at-close campaign of 40 entries
// committed to an entropy source, closed with its value; a winner gives back
// (a promotion), another is confirmed by the shop; the seed revealed. The
// signed-in user fetches their receipt (GET entries/me/proof) on the page:
// valid against the published root; the same receipt with one hex digit of
// its path changed: not valid. The page's ledger check re-derives the
// at-close draw from the seed and the entropy value, the holds and the
// promotion, and the Merkle root from every position: every check passes.
// The checker run in Node on the same export agrees.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { run, until, assert, assertEqual, log, repoRoot, exportOf } from './harness.mjs';

const js = (f) => pathToFileURL(path.join(repoRoot, 'api', 'web', 'static', 'js', f)).href;
const C = 'receipts';
const N = 40;


run('receipt', async (h) => {
  const srv = await h.ticketd({ flags: ['--tick-ms', '100'] });
  const api = h.api(srv);
  const admin = await h.token('ops', { admin: true });
  const users = await h.tokens('r', N);
  let campaign;
  let mine;
  let exported;

  await h.step('an at-close drop of 40, closed with its entropy value; a give-back, a confirmation, the reveal', async () => {
    await api.createCampaign(admin, {
      id: C,
      stock: 8,
      win_bps: 5000,
      admission_rate_per_s: 0,
      hold_s: 600,
      draw: 'at_close',
      entropy_source: 'drand quicknet round 1234567',
    });
    await api.enterMany(users.map((u) => u.token), C, { concurrency: 10 });
    await api.waitCampaign(C, '40 entries', (c) => c.entries === N);
    await api.admin(admin, C, 'close', { entropy_value: 'a1b2c3d4e5f60718' });
    await api.waitCampaign(C, 'drawn at close', (c) => c.serving === N && c.won + c.lost + c.waitlisted === N);
    const winners = [];
    for (const u of users) {
      const e = await api.entry(u.token, C);
      if (e.status === 'won') winners.push({ ...u, e });
    }
    assert(winners.length === 8, `8 winners, got ${winners.length}`);
    await api.call('DELETE', `/v1/campaigns/${C}/entries/me`, { token: winners[0].token, headers: { Prefer: 'wait=5' } });
    await api.call('POST', `/v1/campaigns/${C}/confirmations`, {
      token: admin,
      body: { user: winners[1].user, pass_id: `${C}:${winners[1].e.position}` },
      headers: { 'Idempotency-Key': 'receipt-confirm-1' },
    });
    await api.reveal(admin, C);
    campaign = await api.waitCampaign(C, 'revealed', (c) => !!c.seed);
    assert(/^[0-9a-f]{64}$/.test(campaign.merkle_root), `merkle_root ${campaign.merkle_root}`);
    assertEqual(campaign.merkle_leaves, N, 'merkle_leaves');
    mine = users[7];
  });

  await h.step('the checker in Node re-derives the at-close draw, the holds and the Merkle root', async () => {
    const { LedgerCheck } = await import(js('ledger_check.js'));
    exported = await exportOf(srv, C);
    const check = new LedgerCheck();
    for (const line of exported.trimEnd().split('\n')) check.addLine(line);
    const report = await check.finish();
    assertEqual(report.mismatchCount, 0, `mismatches ${JSON.stringify(report.mismatches.slice(0, 3))}`);
    assert(report.everyDrawChecks, 'every draw checks out');
    assertEqual(report.merkleRootHex, campaign.merkle_root, 'the export root is the campaign root');
    assertEqual(report.totals.promoted, 1, 'one promotion');
    assertEqual(report.totals.confirmed, 1, 'one confirmation');
    // One promotion out of waitlist order is caught.
    const lines = exported.trimEnd().split('\n');
    const i = lines.findIndex((l) => l.includes('"entry_promoted"'));
    const bad = [...lines];
    bad[i] = lines[i].replace(/"waitlist_rank":"?1"?/, '"waitlist_rank":"2"');
    assert(bad[i] !== lines[i], 'the promotion line was changed');
    const c2 = new LedgerCheck();
    for (const line of bad) c2.addLine(line);
    const r2 = await c2.finish();
    assert(r2.mismatches.some((m) => m.check === 'holds'), `a promotion out of order is caught: ${JSON.stringify(r2.mismatches.slice(0, 2))}`);
  });

  const page = await h.page({ name: 'receipt' });
  await h.step('signed in, the verifier page fetches my receipt: valid against the published root', async () => {
    await page.goto(`${srv.url}/drops/${C}`);
    await page.waitFor('#dev-form:not([hidden])');
    await page.type('#dev-user', mine.user);
    await page.click('#dev-submit');
    await page.waitFor('#outcome-text[data-outcome]');
    // The waiting room's own check re-derives this user's at-close draw
    // value with the entropy key: the value the ledger published.
    await page.waitFor('#verify:not([hidden]) #verify-btn:not([hidden])', { visible: true });
    await page.click('#verify-btn');
    await page.waitFor('#verify-verdict[data-verdict="pass"]');
    const shown = await page.evaluate(() => document.querySelector('#verify-out li:nth-child(3) code').textContent);
    const me = JSON.parse(exported.split('\n').find((l) => l.includes('"draw_resolved"') && l.includes(`"user_id":"${mine.user}"`)));
    assertEqual(shown, String(me.draw_resolved.draw_value), 'the page re-derives the published at-close draw value');
    assert(/entropy\/v1/.test(await page.text('#verify-out')), 'the entropy key is named');
    assert(await page.visible('#verify-receipt'), 'the receipt link is offered');
    await page.goto(`${srv.url}/verify/${C}`);
    await page.waitFor('#verdict.good', { timeout: 20000 });
    await until('the published root to be filled in', async () =>
      (await page.evaluate(() => document.querySelector('#receipt-root').value)) === campaign.merkle_root);
    assert(/ledger export/.test(await page.text('#receipt-root-source')), 'the root comes from the checked export');
    await page.click('#receipt-fetch');
    await page.waitFor('#receipt-verdict[data-verdict="valid"]');
    const text = await page.text('#receipt-verdict');
    assert(new RegExp(`entry \\d+ of ${mine.user}`).test(text), `verdict names the entry: "${text}"`);
    const checks = await page.evaluate(() => [...document.querySelectorAll('#receipt-checks li')].map((li) => `${li.dataset.check}:${li.dataset.status}`));
    log(`  receipt checks: ${checks.join(' ')}`);
    assert(checks.includes('path:ok') && checks.includes('leaf_hash:ok'), 'path and leaf hash checked');
    await page.screenshot('receipt-valid');
  });

  await h.step('one hex digit of the path changed: not valid', async () => {
    const receipt = JSON.parse(await page.evaluate(() => document.querySelector('#receipt-text').value));
    assert(receipt.path.length > 0, 'a path');
    const p = receipt.path[0];
    receipt.path[0] = (p[0] === '0' ? '1' : '0') + p.slice(1);
    await page.evaluate((v) => {
      document.querySelector('#receipt-text').value = v;
    }, JSON.stringify(receipt, null, 2));
    await page.click('#receipt-check');
    await page.waitFor('#receipt-verdict[data-verdict="invalid"]');
    const checks = await page.evaluate(() => [...document.querySelectorAll('#receipt-checks li')].map((li) => `${li.dataset.check}:${li.dataset.status}`));
    assert(checks.includes('path:mismatch'), `the path check fails: ${checks.join(' ')}`);
    await page.screenshot('receipt-tampered');
  });

  await h.step('the page re-derived the at-close draw, the holds and the root: every check passes', async () => {
    const st = await page.evaluate(() =>
      Object.fromEntries([...document.querySelectorAll('#checks li')].map((li) => [li.dataset.check, li.dataset.status])),
    );
    for (const id of ['format', 'seed', 'positions', 'one_entry', 'admissions', 'draw_values', 'outcomes', 'stock', 'holds', 'close_reveal', 'merkle']) {
      assertEqual(st[id], 'ok', `check ${id}`);
    }
  });
});
