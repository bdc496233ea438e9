// The waitlist in the waiting room, in a real browser against a real
// ticketd: an at-close campaign (stock 1, everyone eligible) committed to an
// entropy source, closed with its value; the page user is second on the
// waitlist. When the winner gives the unit back (DELETE entries/me) the head
// of the waitlist is promoted and the page's rank moves from 2 to 1 over the
// live channel; when the promoted user gives it back too, the page user is
// promoted: it says so, with its own hold countdown and pass.
import { run, until, assert, assertEqual, log } from './harness.mjs';

const C = 'atclose';
const N = 5;

run('waitlist', async (h) => {
  const srv = await h.ticketd({ flags: ['--tick-ms', '100'] });
  const api = h.api(srv);
  const admin = await h.token('ops', { admin: true });
  const users = await h.tokens('w', N);
  const byRank = new Map(); // drawn waitlist rank -> user
  let winner;

  await h.step('an at-close drop of 5 entries, stock 1, closed with its entropy value', async () => {
    await api.createCampaign(admin, {
      id: C,
      title: 'Drawn at close',
      stock: 1,
      win_bps: 10000,
      admission_rate_per_s: 0,
      hold_s: 60,
      draw: 'at_close',
      entropy_source: 'the test beacon, round 7',
    });
    await api.enterMany(users.map((u) => u.token), C);
    await api.waitCampaign(C, '5 entries', (c) => c.entries === N);
    await api.admin(admin, C, 'close', { entropy_value: 'beacon-7-value' });
    const c = await api.waitCampaign(C, 'drawn at close', (x) => x.won + (x.waitlisted || 0) === N);
    assertEqual(c.draw, 'at_close', 'campaign draw');
    assertEqual(c.entropy_value, 'beacon-7-value', 'campaign entropy value');
    for (const u of users) {
      const e = await api.entry(u.token, C);
      if (e.status === 'won') winner = u;
      else {
        assertEqual(e.status, 'waitlisted', `${u.user} status`);
        byRank.set(e.waitlist_rank, u);
      }
    }
    assert(winner, 'one winner');
    assertEqual([...byRank.keys()].sort().join(','), '1,2,3,4', 'waitlist ranks');
  });

  const me = () => byRank.get(2);
  const page = await h.page({ name: 'waitlisted' });
  await h.step('the second on the waitlist sees rank 2', async () => {
    await page.goto(`${srv.url}/drops/${C}`);
    await page.waitFor('#dev-form:not([hidden])');
    await page.type('#dev-user', me().user);
    await page.click('#dev-submit');
    await page.waitFor('#outcome-text[data-outcome="waitlisted"]');
    await page.waitText('#waitlist-rank', (s) => s === '2');
    assert(/waitlist/.test(await page.text('#outcome-text')), 'waitlisted text');
    assert(!(await page.visible('#hold')), 'no countdown while waitlisted');
    await page.screenshot('waitlist-rank-2');
  });

  await h.step('the winner gives back: rank 1 is promoted, and the page moves to rank 1', async () => {
    const t0 = Date.now();
    await api.call('DELETE', `/v1/campaigns/${C}/entries/me`, { token: winner.token, headers: { Prefer: 'wait=5' } });
    await page.waitText('#waitlist-rank', (s) => s === '1', { timeoutMs: 5000 });
    log(`  rank 2 -> 1 on the page ${Date.now() - t0} ms after the give-back`);
    const head = await api.entry(byRank.get(1).token, C);
    assertEqual(head.status, 'won', 'the head of the waitlist was promoted');
    assert(head.hold_until_ms > Date.now(), 'the promoted user has its own hold');
    assertEqual((await api.entry(me().token, C)).waitlist_rank, 1, 'API rank');
    await until('the live region to announce rank 1', async () => /number 1 on the waitlist/.test(await page.text('#announce')));
  });

  await h.step('the promoted user gives back too: the page user is promoted, with a countdown and a pass', async () => {
    await api.call('DELETE', `/v1/campaigns/${C}/entries/me`, { token: byRank.get(1).token, headers: { Prefer: 'wait=5' } });
    await page.waitFor('#outcome-text[data-outcome="won"]', { timeout: 5000 });
    assertEqual(await page.evaluate(() => document.querySelector('#outcome-text').dataset.promoted), 'true', 'promoted flag');
    assert(/moved up from the waitlist/.test(await page.text('#outcome-text')), 'promoted text');
    const left = await page.text('#hold-left');
    assert(/^Pay within 0[01]:[0-5]\d$/.test(left), `own countdown: "${left}"`);
    assert(await page.visible('#pass'), 'own pass');
    assert(!(await page.visible('#waitlist')), 'no rank once promoted');
    const c = await api.campaign(C);
    assertEqual(c.promoted, 2, 'campaign promoted');
    assertEqual(c.cancelled, 2, 'campaign cancelled');
    await page.screenshot('waitlist-promoted');
  });
});
