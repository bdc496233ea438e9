// Items (issue 15) in a real browser against a real ticketd: the pop-up
// store flow. A campaign with 3 time slots of 2 places, choose=on_admission:
// alice and bob enter through their pages and are admitted at once ("choose
// within mm:ss"); bob has the 14:00 slot picked when alice books its last 2
// places, and his page shows it full and disabled live (the stream carries
// each slot's places left) and announces it; a third user (over the API)
// leaves 15:00 with 1 place, bob asks for 2 there and the page shows the
// item_full refusal clearly, then he books 14:30. A second campaign, created
// from the admin form with item rows and 2 s to choose: carol is admitted
// and does not choose; her page counts down and then says choice_expired.
// The admin page shows the per-item counters and restocks one slot. After
// close and reveal the verifier's checker (ledger_check.js) agrees with the
// ledger item by item, and catches an oversold slot in a tampered copy.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { run, until, assert, assertEqual, log, repoRoot, exportOf } from './harness.mjs';

const js = (f) => pathToFileURL(path.join(repoRoot, 'api', 'web', 'static', 'js', f)).href;


const C = 'popup';
const LATE = 'popup-late';
const SLOTS = [
  { id: 's1400', label: '14:00–14:30', stock: 2 },
  { id: 's1430', label: '14:30–15:00', stock: 2 },
  { id: 's1500', label: '15:00–15:30', stock: 2 },
];

run('items', async (h) => {
  const srv = await h.ticketd({ flags: ['--tick-ms', '100'] });
  const api = h.api(srv);
  const admin = await h.token('ops', { admin: true });

  await h.step('a pop-up campaign: 3 slots of 2 places, chosen on admission', async () => {
    await api.createCampaign(admin, {
      id: C,
      title: 'Pop-up store',
      stock: 0,
      win_bps: 10000,
      admission_rate_per_s: 0,
      items: SLOTS,
      per_user_max: 2,
      choose: 'on_admission',
      choose_s: 120,
    });
    const c = await api.campaign(C);
    assertEqual(c.choose, 'on_admission', 'campaign choose');
    assertEqual(c.items.map((i) => [i.id, i.label, i.stock_left]), SLOTS.map((s) => [s.id, s.label, s.stock]), 'campaign items');
  });

  // Signs a page in and enters; waits until it is admitted to choose.
  async function admitted(name) {
    const page = await h.page({ name });
    await page.goto(`${srv.url}/drops/${C}`);
    await page.waitFor('#dev-form:not([hidden])');
    await page.type('#dev-user', name);
    await page.click('#dev-submit');
    await page.waitFor('#enter:not([hidden])');
    await page.click('#enter-btn');
    await page.waitFor('#choose-left[data-state="choosing"]');
    return page;
  }

  let alice;
  let bob;
  await h.step('alice and bob enter and are admitted: a countdown to choose, the slots with places left', async () => {
    alice = await admitted('alice');
    bob = await admitted('bob');
    const left = await bob.text('#choose-left');
    assert(/^Choose within (01:5\d|02:00)$/.test(left), `countdown: "${left}"`);
    assertEqual(await bob.evaluate(() => [...document.querySelectorAll('#slots .slot')].map((l) => [l.dataset.item, l.dataset.left])), SLOTS.map((s) => [s.id, '2']), 'slots shown with 2 places each');
    assert(/2 places left/.test(await bob.text('#slots')), 'places left text');
    assert(await bob.visible('#choose-btn'), 'the book button');
    assert(await bob.visible('#qty-box'), 'the quantity (per_user_max 2)');
    assert(/Your turn/.test(await bob.text('#announce')), `announced: ${await bob.text('#announce')}`);
    const me = await api.entry(await h.token('bob'), C);
    assertEqual(me.status, 'admitted', 'API status');
    assert(me.choose_until_ms > Date.now(), 'API choose_until_ms');
    await bob.screenshot('items-admitted');
  });

  await h.step('alice books the last 2 places of 14:00: bob\'s page shows it full and disabled, live', async () => {
    await bob.click('#slots input[value="s1400"]');
    await alice.click('#slots input[value="s1400"]');
    await alice.raw.$eval('#qty', (e) => { e.value = '2'; });
    const t0 = Date.now();
    await alice.click('#choose-btn');
    await alice.waitFor('#outcome-text[data-outcome="won"]');
    assert(/14:00–14:30 · 2 places/.test(await alice.text('#outcome-meta')), `alice's booking named: ${await alice.text('#outcome-meta')}`);
    await bob.waitFor('#slots .slot[data-item="s1400"][data-full="true"]', { timeout: 5000 });
    log(`  full on bob's page ${Date.now() - t0} ms after alice's click`);
    assert(await bob.evaluate(() => document.querySelector('#slots input[value="s1400"]').disabled), 'the full slot is disabled');
    assert(!(await bob.evaluate(() => document.querySelector('#slots input[value="s1400"]').checked)), 'and no longer picked');
    assertEqual(await bob.text('#slots .slot[data-item="s1400"] .slot-left'), 'Full', 'says Full');
    await until('the full slot to be announced', async () => /14:00–14:30 is now full/.test(await bob.text('#announce')));
    await bob.screenshot('items-full-live');
  });

  await h.step('15:00 down to 1 place; bob asks for 2 there: item_full shown, then he books 14:30', async () => {
    const dave = await h.token('dave');
    await api.enter(dave, C);
    await until('dave admitted', async () => (await api.entry(dave, C)).status === 'admitted');
    const chosen = await api.post(`/v1/campaigns/${C}/entries/me/choice`, dave, { item_id: 's1500', quantity: 1 }, { headers: { 'Idempotency-Key': 'dave-1' } });
    assertEqual([chosen.status, chosen.item_id, chosen.quantity], ['won', 's1500', 1], 'dave booked 15:00');
    await bob.waitFor('#slots .slot[data-item="s1500"][data-left="1"]', { timeout: 5000 });
    assertEqual(await bob.text('#slots .slot[data-item="s1500"] .slot-left'), '1 place left', 'one place left');
    bob.expectFailure(/\/entries\/me\/choice$/, 409);
    await bob.click('#slots input[value="s1500"]');
    await bob.raw.$eval('#qty', (e) => { e.value = '2'; });
    await bob.click('#choose-btn');
    await bob.waitFor('#items-error:not([hidden])');
    const err = await bob.text('#items-error');
    assert(/15:00–15:30.*fewer than 2 places left: pick another slot/.test(err), `item_full shown: "${err}"`);
    assertEqual(await bob.evaluate(() => document.querySelector('#items-error').getAttribute('role')), 'alert', 'announced as an alert');
    assertEqual((await api.entry(await h.token('bob'), C)).status, 'admitted', 'bob may still choose');
    await bob.screenshot('items-item-full');
    await bob.click('#slots input[value="s1430"]');
    assert(await bob.evaluate(() => document.querySelector('#items-error').hidden), 'a new pick clears the refusal');
    await bob.raw.$eval('#qty', (e) => { e.value = '1'; });
    await bob.click('#choose-btn');
    await bob.waitFor('#outcome-text[data-outcome="won"]');
    assert(/14:30–15:00 · 1 places?/.test(await bob.text('#outcome-meta')), `bob's booking named: ${await bob.text('#outcome-meta')}`);
    const me = await api.entry(await h.token('bob'), C);
    assertEqual([me.status, me.item_id, me.quantity], ['won', 's1430', 1], 'API: bob booked 14:30');
    const c = await api.campaign(C);
    assertEqual(c.items.map((i) => i.stock_left), [0, 1, 1], 'places left per slot');
  });

  const adminPage = await h.page({ name: 'admin', viewport: { width: 1280, height: 900 } });
  const control = async (buttonSel, answerSel) => {
    await adminPage.raw.$eval(answerSel, (e) => {
      e.textContent = '';
      delete e.dataset.status;
    });
    await adminPage.click(buttonSel);
    await adminPage.waitFor('#confirm[open]');
    await adminPage.click('#confirm-ok');
    await adminPage.waitFor(`${answerSel}[data-status]`);
    return { status: Number(await adminPage.raw.$eval(answerSel, (e) => e.dataset.status)), text: await adminPage.text(answerSel) };
  };

  await h.step('admin: the per-item counters, and a restock of 14:00 by 1', async () => {
    await adminPage.goto(`${srv.url}/admin#c=${C}`);
    await adminPage.waitFor('#dev-form:not([hidden])');
    await adminPage.click('#dev-submit');
    await adminPage.waitFor('#items-box:not([hidden])');
    await adminPage.waitFor(`#items-table tr[data-item="s1400"][data-left="0"]`);
    const rows = await adminPage.evaluate(() => [...document.querySelectorAll('#items-table tbody tr')].map((r) => [r.dataset.item, r.querySelector('.i-left').textContent, r.querySelector('.i-taken').textContent]));
    assertEqual(rows, [['s1400', '0 / 2', '2'], ['s1430', '1 / 2', '1'], ['s1500', '1 / 2', '1']], 'per-item counters');
    assert(await adminPage.raw.$eval('#restock-form', (e) => e.hidden), 'the campaign-wide restock is hidden with items');
    const r = await control('#items-table tr[data-item="s1400"] button', '#answer');
    assertEqual(r.status, 200, `restock answer: ${r.text}`);
    await adminPage.waitFor(`#items-table tr[data-item="s1400"][data-left="1"]`);
    assertEqual((await api.campaign(C)).items[0].stock_left, 1, 'API: 14:00 restocked');
  });

  await h.step('admin: a campaign with item rows from the form, 2 s to choose', async () => {
    const set = (sel, v) => adminPage.raw.$eval(sel, (e, val) => { e.value = val; }, v);
    await set('#c-id', LATE);
    await set('#c-win', '10000');
    await set('#c-rate', '0');
    await adminPage.click('#c-item-add');
    await adminPage.click('#c-item-add');
    await adminPage.click('#c-item-add');
    assertEqual(await adminPage.evaluate(() => document.querySelectorAll('#c-item-rows .item-row').length), 3, 'three rows');
    await adminPage.click('#c-item-rows .item-row:nth-child(3) .item-remove');
    assertEqual(await adminPage.evaluate(() => document.querySelectorAll('#c-item-rows .item-row').length), 2, 'one removed');
    await adminPage.evaluate(() => {
      const rows = document.querySelectorAll('#c-item-rows .item-row');
      const fill = (row, v) => {
        for (const [k, x] of Object.entries(v)) row.querySelector(`[data-f="${k}"]`).value = x;
      };
      fill(rows[0], { id: 'a', label: '10:00', stock: '3', per_user_max: '0' });
      fill(rows[1], { id: 'b', label: '10:30', stock: '1', per_user_max: '1' });
    });
    assertEqual(await adminPage.raw.$eval('#c-stock', (e) => e.value), '0', 'the stock field says 0 with items');
    await set('#c-per-user-max', '2');
    await adminPage.raw.select('#c-choose', 'on_admission');
    await set('#c-choose-s', '2');
    const r = await control('#create-btn', '#create-answer');
    assertEqual(r.status, 201, `create answer: ${r.text}`);
    const c = await api.campaign(LATE);
    assertEqual([c.choose, c.choose_s, c.per_user_max, c.stock_left], ['on_admission', 2, 2, 4], 'created as the form said');
    assertEqual(c.items.map((i) => [i.id, i.label, i.stock, i.per_user_max]), [['a', '10:00', 3, 0], ['b', '10:30', 1, 1]], 'items as the rows said');
  });

  await h.step('carol is admitted and does not choose: the countdown, then choice_expired', async () => {
    const carol = await h.page({ name: 'carol' });
    await carol.goto(`${srv.url}/drops/${LATE}`);
    await carol.waitFor('#dev-form:not([hidden])');
    await carol.type('#dev-user', 'carol');
    await carol.click('#dev-submit');
    await carol.waitFor('#enter:not([hidden])');
    await carol.click('#enter-btn');
    await carol.waitFor('#choose-left[data-state="choosing"]');
    const t0 = Date.now();
    assert(/^Choose within 00:0[12]$/.test(await carol.text('#choose-left')), `countdown: ${await carol.text('#choose-left')}`);
    await carol.waitFor('#outcome-text[data-outcome="choice_expired"]', { timeout: 8000 });
    log(`  choice_expired on the page ${Date.now() - t0} ms after admission`);
    assert(/did not choose in time/.test(await carol.text('#outcome-text')), `expired text: ${await carol.text('#outcome-text')}`);
    assert(!(await carol.visible('#items')), 'no slots to pick once expired');
    assertEqual((await api.entry(await h.token('carol'), LATE)).status, 'choice_expired', 'API status');
    await carol.screenshot('items-choice-expired');
  });

  await h.step('closed and revealed: the checker agrees item by item; an oversold copy is caught', async () => {
    const { LedgerCheck } = await import(js('ledger_check.js'));
    const check = async (ls) => {
      const c = new LedgerCheck();
      for (const l of ls) c.addLine(l);
      return c.finish();
    };
    for (const id of [C, LATE]) {
      await api.close(admin, id);
      await api.reveal(admin, id);
      await api.waitCampaign(id, `${id} revealed`, (c) => !!c.seed);
    }
    const lines = (await exportOf(srv, C)).trimEnd().split('\n');
    const good = await check(lines);
    assertEqual(good.mismatchCount, 0, `mismatches ${JSON.stringify(good.mismatches.slice(0, 3))}`);
    assertEqual(good.checks.find((c) => c.id === 'items').status, 'ok', 'items check');
    assertEqual(good.totals.items.map((i) => [i.id, i.left, i.taken, i.restocked]), [['s1400', '1', '2', '1'], ['s1430', '1', '1', '0'], ['s1500', '1', '1', '0']], 'per-item totals');
    assertEqual(good.totals.chosen, 3, 'three choices');
    const late = await check((await exportOf(srv, LATE)).trimEnd().split('\n'));
    assertEqual(late.mismatchCount, 0, `late mismatches ${JSON.stringify(late.mismatches.slice(0, 3))}`);
    assertEqual(late.totals.choices_expired, 1, 'one choice expired');
    // Bob's choice rewritten to 14:00 (full then): the slot is oversold.
    const i = lines.findIndex((l) => l.includes('"item_chosen"') && l.includes('"s1430"'));
    assert(i > 0, 'bob\'s choice in the ledger');
    const bad = await check(lines.map((l, j) => (j === i ? l.replace('"s1430"', '"s1400"') : l)));
    const items = bad.mismatches.filter((m) => m.check === 'items');
    assert(items.some((m) => /no item oversold/.test(m.expected)), `oversold caught: ${JSON.stringify(bad.mismatches.slice(0, 3))}`);
    log(`  tampered: ${items[0].published} / ${items[0].expected}`);
  });
});
