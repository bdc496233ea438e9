// The waiting room and the index in a real browser, against a real ticketd:
// 200 users enter through the API and one through the page; the page shows
// its place falling and then its outcome, equal to the API's; a reload keeps
// the same entry; ticketd stopped and restarted → the page says so,
// reconnects and catches up; after the reveal the page checks its own draw;
// Korean and English; a 360-px viewport has no horizontal scroll.
import { run, until, assert, assertEqual, sleep, log } from './harness.mjs';

const C = 'summer';
const OTHER = 'autumn';
const USERS = 200;
const PAGE_USER = 'pageuser';
const RATE = 15; // positions served per second once resumed

run('drop', async (h) => {
  const srv = await h.ticketd();
  const api = h.api(srv);
  const admin = await h.token('ops', { admin: true });
  const mine = await h.token(PAGE_USER);

  await h.step('a paused campaign with 200 entries from the API', async () => {
    await api.createCampaign(admin, { id: C, title: 'Summer drop', stock: 60, win_bps: 5000, admission_rate_per_s: RATE, queueing: 'fifo' });
    await api.createCampaign(admin, { id: OTHER, title: 'Autumn drop', stock: 5, win_bps: 10000 });
    await api.admin(admin, C, 'pause');
    const users = await h.tokens('crowd', USERS);
    await api.enterMany(users.map((u) => u.token), C);
    const c = await api.waitCampaign(C, '200 entries', (c) => c.entries === USERS);
    assertEqual(c.serving, 0, 'serving while paused');
  });

  const page = await h.page({ name: 'drop-en' });
  const dropUrl = `${srv.url}/drops/${C}`;

  await h.step('the index lists the open drops', async () => {
    await page.goto(`${srv.url}/`);
    await page.waitFor(`li[data-campaign="${C}"] a[href="/drops/${C}"]`);
    await page.waitFor(`li[data-campaign="${OTHER}"]`);
    assertEqual(await page.noHorizontalScroll().then((r) => r.ok), true, 'index: no horizontal scroll');
    await page.screenshot('index');
  });

  await h.step('sign in with the keyboard (development sign-in)', async () => {
    await page.goto(dropUrl);
    await page.waitFor('#dev-form:not([hidden])');
    assert(await page.visible('#signin'), 'sign-in shown');
    assert(!(await page.visible('#enter')), 'no enter button before sign-in');
    await page.raw.focus('#dev-user');
    await page.raw.keyboard.type(PAGE_USER);
    await page.raw.keyboard.press('Enter');
    await page.waitText('#whoami', new RegExp(PAGE_USER));
    // No entry yet: the stream's first message says so, with no 4xx anywhere.
    await page.waitFor('#enter:not([hidden])');
    await page.screenshot('drop-signed-in');
  });

  let position;
  await h.step('enter through the page (keyboard): one entry, queued behind 200, paused', async () => {
    await page.raw.focus('#enter-btn');
    await page.raw.keyboard.press('Space');
    await page.waitText('#position', /^\d+$/);
    const me = await api.entry(mine, C);
    position = me.position;
    assertEqual(position, USERS + 1, 'the API gives the page user the next position');
    assertEqual(await page.text('#position'), String(position), 'page position = API position');
    assertEqual(await page.text('#ahead'), String(me.people_ahead), 'page people ahead = API');
    await page.waitText('#state', /paused/i);
    await until('the live region to announce the position', async () => /Position 201/.test(await page.text('#announce')));
    assertEqual((await api.campaign(C)).entries, USERS + 1, 'entries after the page entered');
  });

  await h.step('a reload comes back to the same entry (no second entry)', async () => {
    const key = await page.evaluate(() => Object.keys(localStorage).find((k) => k.startsWith('tl_entry:')));
    const before = await page.evaluate((k) => localStorage.getItem(k), key);
    await page.reload();
    await page.waitText('#position', (s) => s === String(position));
    assertEqual(await page.evaluate((k) => localStorage.getItem(k), key), before, 'same idempotency record');
    assert(!(await page.visible('#enter')), 'no enter button after reload');
    assertEqual((await api.campaign(C)).entries, USERS + 1, 'still one entry per user');
  });

  const seen = [];
  await h.step('resumed: the page shows its place falling', async () => {
    await api.admin(admin, C, 'resume');
    await until('people ahead to fall three times', async () => {
      const n = Number((await page.text('#ahead')).replace(/\D/g, ''));
      if (!seen.length || n !== seen[seen.length - 1]) seen.push(n);
      return seen.length >= 4;
    }, { timeoutMs: 20000, everyMs: 150 });
    for (let i = 1; i < seen.length; ++i) assert(seen[i] < seen[i - 1], `people ahead falls: ${seen.join(' → ')}`);
    log(`  people ahead: ${seen.join(' → ')}`);
    await page.waitText('#state', /In the queue/);
    await page.screenshot('drop');
  });

  await h.step('ticketd stopped and restarted: the page says so, reconnects and catches up', async () => {
    page.expectFailure(/\/v1\//, 'failed'); // the attempts while it is down
    const downAt = Date.now();
    await srv.stop();
    await page.waitFor('#conn.down');
    const text = await page.text('#conn-text');
    assert(/Disconnected|checking every/.test(text), `disconnected shown: "${text}"`);
    await until('the live region to say the connection is lost', async () => /Connection lost/.test(await page.text('#announce')));
    await page.screenshot('drop-disconnected');
    await sleep(2500);
    await srv.start();
    await page.waitFor('#conn.live, #outcome:not([hidden])', { timeout: 40000 });
    // Backoff, not a storm: 1 s doubling (±20%), and no entry poll within 10 s.
    const down = (Date.now() - downAt) / 1000;
    const streams = page.requestsSince(downAt, /\/events/).length;
    const polls = page.requestsSince(downAt, /\/entries\/me/).length;
    log(`  down ${down.toFixed(1)} s: ${streams} stream attempts, ${polls} entry polls`);
    assert(streams <= Math.ceil(Math.log2(down + 1)) + 2, `reconnects back off (${streams} attempts in ${down.toFixed(1)} s)`);
    assert(polls <= Math.floor(down / 10), `no polling faster than every 10 s (${polls} in ${down.toFixed(1)} s)`);
    const me = await api.entry(mine, C);
    if (me.status === 'queued') {
      await until('the page to match the API after the restart', async () => {
        const now = await api.entry(mine, C);
        if (now.status !== 'queued') return true;
        return Number((await page.text('#ahead')).replace(/\D/g, '')) <= now.people_ahead + RATE;
      }, { timeoutMs: 10000 });
    }
  });

  let outcome;
  await h.step('the outcome, as the API has it', async () => {
    await page.waitFor('#outcome:not([hidden])', { timeout: 40000 });
    outcome = await page.raw.$eval('#outcome-text', (e) => e.dataset.outcome);
    const me = await api.entry(mine, C);
    assertEqual(outcome, me.status, 'page outcome = API outcome');
    assert(['won', 'lost', 'sold_out'].includes(outcome), `drawn: ${outcome}`);
    const results = await api.get(`/v1/campaigns/${C}/results?cursor=${position - 1}&limit=1`);
    assertEqual(results.items[0].outcome, outcome, 'page outcome = results listing');
    assert(await page.visible('#verify-wait'), 'the verify panel waits for the reveal');
    await page.screenshot('drop-outcome');
  });

  await h.step('after close and reveal: verify my draw', async () => {
    await api.close(admin, C);
    await until('the reveal to be accepted', async () => {
      try {
        await api.reveal(admin, C);
        return true;
      } catch (e) {
        if (e.status === 409) return false; // the queue still drains
        throw e;
      }
    }, { timeoutMs: 30000, everyMs: 500 });
    const c = await api.campaign(C);
    assert(c.seed, 'seed revealed');
    await page.reload();
    await page.waitFor('#verify:not([hidden]) #verify-btn:not([hidden])', { visible: true });
    await page.click('#verify-btn');
    await page.waitFor('#verify-verdict');
    const verdict = await page.raw.$eval('#verify-verdict', (e) => e.dataset.verdict);
    assertEqual(verdict, 'pass', `verify my draw (${await page.text('#verify-out')})`);
    await page.screenshot('drop-verified');
  });

  await h.step('a random queue: the pre-queue before its opening, then a place', async () => {
    const opensAt = Date.now() + 5000;
    await api.createCampaign(admin, { id: 'spring', title: 'Spring drop', stock: 3, win_bps: 10000, admission_rate_per_s: 50, queueing: 'random', opens_at_ms: opensAt });
    const crowd = await h.tokens('early', 10);
    await api.enterMany(crowd.map((u) => u.token), 'spring');
    await page.goto(`${srv.url}/drops/spring`);
    await page.waitFor('#enter:not([hidden])');
    await page.click('#enter-btn');
    await page.waitText('#state', /pre-queue/i);
    assert(await page.visible('#opens'), 'the opening time is shown');
    await page.screenshot('drop-prequeue');
    await page.waitFor('#outcome:not([hidden])', { timeout: 20000 });
    const me = await api.entry(mine, 'spring');
    assertEqual(await page.raw.$eval('#outcome-text', (e) => e.dataset.outcome), me.status, 'random queue outcome = API');
    assert(me.position >= 1 && me.position <= 11, `a place drawn in the pre-queue: ${me.position}`);
  });

  await h.step('give up a win: confirmed in a dialog, cancelled as the API says, the unit back in stock', async () => {
    await api.createCampaign(admin, { id: 'winter', title: 'Winter drop', stock: 3, win_bps: 10000 });
    await page.goto(`${srv.url}/drops/winter`);
    await page.waitFor('#enter:not([hidden])');
    await page.click('#enter-btn');
    await page.waitFor('#outcome:not([hidden]) #leave:not([hidden])', { visible: true });
    assertEqual(await page.raw.$eval('#outcome-text', (e) => e.dataset.outcome), 'won', 'a sure win');
    // The winner's admission pass is on the page, the very one the API hands out.
    await page.waitFor('#pass:not([hidden])', { visible: true });
    const shown = await page.raw.$eval('#pass-text', (e) => e.value);
    assert(/^[\w-]+\.[\w-]+\.[\w-]+$/.test(shown), `a compact JWT: ${shown.slice(0, 40)}`);
    const claims = JSON.parse(Buffer.from(shown.split('.')[1], 'base64url').toString());
    assertEqual(claims.jti, `winter:${claims.position}`, 'the pass names this entry');
    assertEqual(claims.sub, (await api.entry(mine, 'winter')).user, 'the pass is the winner\'s');
    await page.click('#leave');
    await page.waitFor('#confirm[open]');
    await page.click('#confirm button[value="cancel"]');
    assertEqual((await api.entry(mine, 'winter')).status, 'won', 'cancel in the dialog sends nothing');
    await page.click('#leave');
    await page.waitFor('#confirm[open]');
    await page.click('#confirm-ok');
    await page.waitFor('#outcome-text[data-outcome="cancelled"]');
    assert(await page.raw.$eval('#pass', (e) => e.hidden), 'a given-back win shows no pass');
    assertEqual((await api.entry(mine, 'winter')).status, 'cancelled', 'the API says cancelled');
    assertEqual((await api.campaign('winter')).stock_left, 3, 'the unit is back in stock');
  });

  await h.step('Korean, 360 px: the same entry, no horizontal scroll, and the switch', async () => {
    const ko = await h.page({ name: 'drop-ko', lang: 'ko', viewport: { width: 360, height: 740 } });
    // The production hand-off: the seller's site sends the user here with
    // the JWT in the fragment; the page trades it for the cookie and drops it.
    await ko.goto(`${dropUrl}#token=${mine}`);
    assertEqual(await ko.evaluate(() => document.documentElement.lang), 'ko', 'Accept-Language ko → <html lang=ko>');
    await ko.waitText('#whoami', new RegExp(PAGE_USER));
    const href = await ko.evaluate(() => location.href);
    assert(!href.includes('token') && !href.includes(mine.slice(0, 20)), `the token left the address bar: ${href}`);
    assert(/로그인/.test(await ko.text('#whoami')), 'signed-in line in Korean');
    // A new browser: no local record, so the stream's first message brings the entry back.
    await ko.waitFor('#outcome:not([hidden])');
    assertEqual(await ko.raw.$eval('#outcome-text', (e) => e.dataset.outcome), outcome, 'same outcome in another browser');
    assert(/[가-힣]/.test(await ko.text('#outcome-text')), 'outcome in Korean');
    const scroll = await ko.noHorizontalScroll();
    assert(scroll.ok, `no horizontal scroll at 360 px (${scroll.scrollWidth} > ${scroll.clientWidth})`);
    await ko.screenshot('drop-ko-360');
    await ko.click('.lang-switch button[data-lang="en"]');
    await ko.waitText('#outcome-text', /[A-Za-z]/);
    assertEqual(await ko.evaluate(() => localStorage.getItem('tl_lang')), 'en', 'the switch is remembered');
    await ko.reload();
    await ko.waitText('#outcome-text', /[A-Za-z]/);
  });

  await h.step('the index at 360 px in Korean', async () => {
    const idx = await h.page({ name: 'index-ko', lang: 'ko', viewport: { width: 360, height: 740 } });
    await idx.goto(`${srv.url}/`);
    await idx.waitFor(`li[data-campaign="${OTHER}"]`);
    assert(!(await idx.raw.$(`li[data-campaign="${C}"]`)), 'a closed drop is not listed');
    assert(/[가-힣]/.test(await idx.text('h1')), 'index heading in Korean');
    const scroll = await idx.noHorizontalScroll();
    assert(scroll.ok, `index: no horizontal scroll at 360 px (${scroll.scrollWidth} > ${scroll.clientWidth})`);
    await idx.screenshot('index-ko-360');
  });
  await sleep(100);
}, { timeoutMs: 150000 });
