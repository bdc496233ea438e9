// The operator dashboard in a real browser, against a real ticketd: signing
// in with a pasted admin token (the production path) and with the dev form;
// the counters equal GET /v1/campaigns/{id} and change when entries arrive;
// the charts draw; every control (create, pause, resume, restock, close,
// reveal) is confirmed in a dialog, works, and shows the API's answer,
// errors included (restock after close → 409 on screen); an at-close
// campaign with a hold and an entropy source created from the form, closed
// with its value, its confirmed / expired / waitlisted / promoted counters;
// Korean at 360 px.
import { run, until, assert, assertEqual, log, sleep } from './harness.mjs';

const C = 'drop1';
const ENTRIES = 120;

const num = (s) => Number(String(s).replace(/[^\d]/g, ''));

run('admin', async (h) => {
  const srv = await h.ticketd();
  const api = h.api(srv);
  const admin = await h.token('ops', { admin: true });
  const page = await h.page({ name: 'admin-en', viewport: { width: 1280, height: 900 } });

  // Clicks a control and answers its dialog (ok or cancel); returns the answer box text.
  async function control(buttonSel, { confirm = true, answerSel = '#answer' } = {}) {
    await page.raw.$eval(answerSel, (e) => {
      e.textContent = '';
      delete e.dataset.status;
    });
    await page.click(buttonSel);
    await page.waitFor('#confirm[open]');
    const text = await page.text('#confirm-text');
    await page.click(confirm ? '#confirm-ok' : '#confirm button[value="cancel"]');
    await until('the dialog to close', async () => !(await page.raw.$('#confirm[open]')));
    if (!confirm) return { text, status: null };
    await page.waitFor(`${answerSel}[data-status]`);
    const status = Number(await page.raw.$eval(answerSel, (e) => e.dataset.status));
    const answer = await page.text(answerSel);
    log(`  ${buttonSel} → ${status}`);
    return { text, status, answer, error: await page.raw.$eval(answerSel, (e) => e.classList.contains('error')) };
  }

  // Every counter on screen equals the API's campaign (once both are still).
  async function countersEqualApi(what) {
    return until(what, async () => {
      const c = await api.campaign(C);
      const shown = {
        entries: num(await page.text('#k-entries')),
        serving: num(await page.text('#k-serving')),
        won: num(await page.text('#k-won')),
        lost: num(await page.text('#k-lost')),
        sold_out: num(await page.text('#k-sold_out')),
        cancelled: num(await page.text('#k-cancelled')),
        drawn: num(await page.text('#k-drawn')),
        stock_left: num((await page.text('#k-stock_left')).split('/')[0]),
      };
      const want = {
        entries: c.entries, serving: c.serving, won: c.won, lost: c.lost, sold_out: c.sold_out,
        cancelled: c.cancelled, drawn: c.drawn, stock_left: c.stock_left,
      };
      return JSON.stringify(shown) === JSON.stringify(want) ? c : false;
    }, { timeoutMs: 15000, everyMs: 250 });
  }

  await h.step('sign in by pasting an admin token (the production path)', async () => {
    await page.goto(`${srv.url}/admin`);
    await page.waitFor('#signin:not([hidden])');
    assert(await page.visible('#dev-form'), 'the dev sign-in is offered with --dev');
    await page.type('#token', admin);
    await page.click('#token-form button[type="submit"]');
    await page.waitFor('#dash:not([hidden])');
    assertEqual(await page.evaluate(() => document.querySelector('#token').value), '', 'the token is not kept in the form');
    await page.waitText('#ready', /ready/i);
    await page.waitFor('#no-campaigns:not([hidden])');
  });

  await h.step('sign out, then the development sign-in', async () => {
    await page.click('#signout');
    await page.waitFor('#signin:not([hidden])');
    await page.click('#dev-submit');
    await page.waitFor('#dash:not([hidden])');
    await page.waitText('#whoami', /ops/);
  });

  await h.step('create a campaign from the form (every option), confirmed', async () => {
    await page.type('#c-id', C);
    await page.type('#c-title', 'Drop one');
    await page.raw.$eval('#c-stock', (e) => { e.value = '30'; });
    await page.raw.$eval('#c-win', (e) => { e.value = '5000'; });
    await page.raw.$eval('#c-rate', (e) => { e.value = '200'; });
    await page.raw.$eval('#c-max', (e) => { e.value = '1000'; });
    await page.raw.select('#c-queueing', 'fifo');
    const cancelled = await control('#create-btn', { confirm: false, answerSel: '#create-answer' });
    assert(/drop1/.test(cancelled.text), 'the dialog names the campaign');
    let err = null;
    try {
      await api.campaign(C);
    } catch (e) {
      err = e;
    }
    assert(err && err.status === 404, 'cancel sends nothing');
    const r = await control('#create-btn', { answerSel: '#create-answer' });
    assertEqual(r.status, 201, `create answer: ${r.answer}`);
    const c = await api.campaign(C);
    assertEqual([c.title, c.stock, c.win_bps, c.admission_rate_per_s, c.max_entries, c.queueing], ['Drop one', 30, 5000, 200, 1000, 'fifo'], 'created as the form said');
    await page.waitFor(`tr[data-campaign="${C}"]`);
    await page.waitFor('#detail:not([hidden])');
    await countersEqualApi('the counters to equal the API (empty campaign)');
  });

  await h.step('creating it again shows the 409', async () => {
    page.expectFailure(/\/v1\/admin\/campaigns$/, 409);
    const r = await control('#create-btn', { answerSel: '#create-answer' });
    assertEqual(r.status, 409, 'duplicate create');
    assert(r.error && /campaign_exists/.test(r.answer), `the error is shown: ${r.answer}`);
  });

  await h.step('entries arrive: the counters change and equal the API', async () => {
    const before = num(await page.text('#k-entries'));
    assertEqual(before, 0, 'no entries yet');
    const users = await h.tokens('fan', ENTRIES);
    await api.enterMany(users.map((u) => u.token), C);
    await page.waitText('#k-entries', (s) => num(s) === ENTRIES);
    const c = await countersEqualApi('the counters to equal the API after the entries');
    assert(c.drawn > 0, 'draws happened');
    // the win-rate line and its interval
    assert(/99\.9%/.test(await page.text('#winrate')), 'the 99.9% interval is shown');
    // each chart drew its canvas
    for (const id of ['#chart-rate', '#chart-queue', '#chart-win']) assert(await page.raw.$(`${id} canvas`), `${id} has a canvas`);
    const rows = num(await page.raw.$eval(`tr[data-campaign="${C}"] td:nth-child(3)`, (e) => e.textContent));
    assertEqual(rows, ENTRIES, 'the campaign table shows the entries');
  });

  await h.step('pause and resume, each confirmed, each answered', async () => {
    const cancelled = await control('#act-pause', { confirm: false });
    assert(/drop1/.test(cancelled.text), 'the pause dialog names the campaign');
    assertEqual((await api.campaign(C)).admission_paused, false, 'cancel sends nothing');
    let r = await control('#act-pause');
    assertEqual(r.status, 200, `pause: ${r.answer}`);
    await page.waitFor('#detail-paused');
    assertEqual((await api.campaign(C)).admission_paused, true, 'paused in the API');
    r = await control('#act-resume');
    assertEqual(r.status, 200, `resume: ${r.answer}`);
    await until('the paused pill to go', async () => !(await page.raw.$('#detail-paused')));
    assertEqual((await api.campaign(C)).admission_paused, false, 'resumed in the API');
  });

  await h.step('restock', async () => {
    const before = await api.campaign(C);
    await page.raw.$eval('#restock-units', (e) => { e.value = '5'; });
    const r = await control('#act-restock');
    assertEqual(r.status, 200, `restock: ${r.answer}`);
    const after = await api.campaign(C);
    assertEqual(after.restocked - before.restocked, 5, 'restocked by 5');
    await countersEqualApi('the counters to equal the API after the restock');
  });

  await h.step('reveal before close: the 409 is shown', async () => {
    page.expectFailure(/\/v1\/admin\/campaigns\/drop1\/reveal$/, 409);
    const bad = await control('#act-reveal');
    assertEqual(bad.status, 409, 'reveal before close');
    assert(bad.error && /409/.test(bad.answer) && /not_drained/.test(bad.answer), `the 409 is on screen: ${bad.answer}`);
    await page.screenshot('admin-error');
  });

  await h.step('close; closing again shows the 409', async () => {
    const r = await control('#act-close');
    assertEqual(r.status, 200, `close: ${r.answer}`);
    await page.waitText('#detail-status', /closed/i);
    page.expectFailure(/\/v1\/admin\/campaigns\/drop1\/close$/, 409);
    const bad = await control('#act-close');
    assertEqual(bad.status, 409, 'close after close');
    assert(bad.error && /campaign_closed/.test(bad.answer), `the 409 is on screen: ${bad.answer}`);
  });

  await h.step('reveal', async () => {
    await api.waitCampaign(C, 'the queue to drain', (c) => c.serving >= c.entries - c.prequeued);
    const r = await control('#act-reveal');
    assertEqual(r.status, 200, `reveal: ${r.answer}`);
    assert((await api.campaign(C)).seed, 'seed revealed');
    await page.waitFor('#detail-revealed');
    await countersEqualApi('the final counters to equal the API');
  });

  await h.step('a drop over ten seconds: the charts follow it (the README screenshot)', async () => {
    await api.createCampaign(admin, { id: 'launch', title: 'Launch day', stock: 80, win_bps: 3000, admission_rate_per_s: 40 });
    await page.waitFor('tr[data-campaign="launch"] button');
    await page.click('tr[data-campaign="launch"] button');
    await page.waitText('#detail-h', /launch/);
    const users = await h.tokens('wave', 400);
    for (let i = 0; i < 10; ++i) {
      await api.enterMany(users.slice(i * 40, i * 40 + 40).map((u) => u.token), 'launch');
      await sleep(800);
    }
    await api.waitCampaign('launch', 'the queue to drain', (c) => c.serving === c.entries, { timeoutMs: 20000 });
    await sleep(2500);
    const points = await page.evaluate(() => document.querySelectorAll('#chart-rate canvas').length);
    assertEqual(points, 1, 'one entries/s chart');
    const c = await api.campaign('launch');
    assertEqual(num(await page.text('#k-entries')), c.entries, 'entries shown = API');
    await page.screenshot('admin');
  });

  await h.step('an at-close campaign with a hold and an entropy source from the form, closed with its value; the hold counters', async () => {
    const set = (sel, v) => page.raw.$eval(sel, (e, val) => { e.value = val; }, v);
    await set('#c-id', 'atc');
    await set('#c-title', '');
    await set('#c-stock', '2');
    await set('#c-win', '10000');
    await set('#c-rate', '0');
    await set('#c-max', '0');
    await set('#c-opens', '');
    await set('#c-hold', '30');
    await page.raw.select('#c-draw', 'at_close');
    await set('#c-entropy', 'beacon round 9');
    const r = await control('#create-btn', { answerSel: '#create-answer' });
    assertEqual(r.status, 201, `create answer: ${r.answer}`);
    const c = await api.campaign('atc');
    assertEqual([c.hold_s, c.draw, c.entropy_source], [30, 'at_close', 'beacon round 9'], 'created as the form said');
    const users = await h.tokens('atc', 4);
    await api.enterMany(users.map((u) => u.token), 'atc');
    await api.waitCampaign('atc', '4 entries', (x) => x.entries === 4);
    await page.waitText('#detail-h', /atc/);
    await page.waitFor('#entropy-box:not([hidden])');
    assert(/beacon round 9/.test(await page.text('#entropy-needed')), 'the committed source is named');
    page.expectFailure(/\/v1\/admin\/campaigns\/atc\/close$/, '*');
    const empty = await control('#act-close');
    assert(empty.status >= 400 && empty.error, `a close without the value is refused on screen: ${empty.status} ${empty.answer}`);
    await page.type('#close-entropy', 'value-9');
    const closed = await control('#act-close');
    assertEqual(closed.status, 200, `close with the value: ${closed.answer}`);
    assert(/value-9/.test(closed.text), 'the dialog names the value');
    await page.waitText('#k-waitlisted', (s) => num(s) === 2);
    assertEqual(num(await page.text('#k-won')), 2, 'won');
    assertEqual(num(await page.text('#k-waitlist')), 2, 'waitlist now');
    const after = await api.campaign('atc');
    assertEqual(after.entropy_value, 'value-9', 'entropy value recorded');
    await page.waitText('#k-merkle_root', (s) => s === after.merkle_root);
    assert(!(await page.visible('#entropy-box')), 'no entropy input once closed');
    let winner = null;
    for (const u of users) if ((await api.entry(u.token, 'atc')).status === 'won') winner = u;
    await api.call('DELETE', '/v1/campaigns/atc/entries/me', { token: winner.token, headers: { Prefer: 'wait=5' } });
    await page.waitText('#k-promoted', (s) => num(s) === 1);
    assertEqual(num(await page.text('#k-waitlist')), 1, 'waitlist after a promotion');
    assertEqual(num(await page.text('#k-cancelled')), 1, 'cancelled');
    assertEqual(num(await page.raw.$eval('tr[data-campaign="atc"] td:nth-child(15)', (e) => e.textContent)), 1, 'the table shows the promotion');
  });

  await h.step('Korean at 360 px: no horizontal scroll', async () => {
    const ko = await h.page({ name: 'admin-ko', lang: 'ko', viewport: { width: 360, height: 740 } });
    await ko.goto(`${srv.url}/admin`);
    await ko.waitFor('#dev-form:not([hidden])');
    assert(/운영자/.test(await ko.text('h1')), 'heading in Korean');
    await ko.click('#dev-submit');
    await ko.waitFor('#detail:not([hidden])');
    await ko.waitFor('#chart-win canvas');
    const scroll = await ko.noHorizontalScroll();
    assert(scroll.ok, `no horizontal scroll at 360 px (${scroll.scrollWidth} > ${scroll.clientWidth})`);
    assert(/[가-힣]/.test(await ko.text('#counters')), 'counters labelled in Korean');
    await ko.screenshot('admin-ko-360', { fullPage: false });
    await ko.click('.lang-switch button[data-lang="en"]');
    await ko.waitText('h1', /Operator/);
  });
}, { timeoutMs: 150000 });
