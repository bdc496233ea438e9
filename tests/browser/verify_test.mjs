// The public verifier page (/verify/{id}) in a real browser against a real
// ticketd: a first-come lottery of 300 entries and a random queue with a
// pre-queue, both closed and revealed; the page downloads the export
// (GET /v1/campaigns/{id}/ledger, every page) and says every draw checks out;
// a tampered export (one outcome flipped) given as a file is refused at that
// position; Korean and English render; 360 px wide has no horizontal scroll.
// Also: the checker (ledger_check.js, on draw.js) run in Node on the same
// export agrees with the engine's draw values, and draw.js equals openssl.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { run, assert, assertEqual, until, log, repoRoot, exportOf } from './harness.mjs';

const js = (f) => pathToFileURL(path.join(repoRoot, 'api', 'web', 'static', 'js', f)).href;


// The page's check list as {id: status}.
function checkStatuses(page) {
  return page.evaluate(() =>
    Object.fromEntries([...document.querySelectorAll('#checks li')].map((li) => [li.dataset.check, li.dataset.status])),
  );
}

run(
  'verify',
  async (h) => {
    const draw = await import(js('draw.js'));
    const { LedgerCheck } = await import(js('ledger_check.js'));

    await h.step('draw.js equals openssl on the rule of engine/core/draw.h', async () => {
      const seed = '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881';
      const mac = (msg) =>
        execFileSync('openssl', ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${seed}`], { input: msg })
          .toString()
          .trim()
          .split('= ')[1];
      const v = await draw.drawValue(seed, 'c1', 42, 'alice');
      assertEqual(v.toString(16).padStart(16, '0'), mac('ticketledger/draw/v1|c1|42|alice').slice(0, 16), 'draw value');
      const k = await draw.prequeueKey(seed, 'c1', '사용자');
      assertEqual(draw.bytesToHex(k), mac('ticketledger/prequeue/v1|c1|사용자'), 'prequeue key');
      const sha = execFileSync('openssl', ['dgst', '-sha256'], { input: Buffer.from(seed, 'hex') })
        .toString()
        .trim()
        .split('= ')[1];
      assertEqual(await draw.commitmentOf(seed), sha, 'commitment');
      assertEqual(draw.winThreshold(500).toString(), '922337203685477580', 'threshold 5%');
      assertEqual(draw.winThreshold(10000).toString(), (1n << 64n).toString(), 'threshold 100%');
    });

    const srv = await h.ticketd({ flags: ['--tick-ms', '50', '--user-rate', '0'] });
    const api = h.api(srv);
    const admin = await h.token('ops', { admin: true });

    let lottery;
    let users;
    await h.step('a lottery of 300 entries and a random queue, closed and revealed', async () => {
      await api.createCampaign(admin, { id: 'lottery', title: 'Verify me', stock: 40, win_bps: 2500 });
      users = await h.tokens('v', 300);
      await api.enterMany(users.map((u) => u.token), 'lottery', { concurrency: 20 });
      await api.waitCampaign('lottery', 'all 300 drawn', (c) => c.drawn === 300, { timeoutMs: 60000 });
      // A cancellation and a restock, so the stock walk has both.
      let winner = null;
      for (const u of users) {
        const e = await api.entry(u.token, 'lottery');
        if (e.status === 'won') {
          winner = u;
          break;
        }
      }
      assert(winner, 'someone won');
      await api.call('DELETE', '/v1/campaigns/lottery/entries/me', { token: winner.token, headers: { Prefer: 'wait=5' } });
      await api.admin(admin, 'lottery', 'restock', { units: 3 });
      // Before the reveal the export is refused.
      const early = await api.call('GET', '/v1/campaigns/lottery/ledger', { ok: [409] });
      assertEqual(early.body.error.code, 'not_revealed', 'export before the reveal');
      await api.close(admin, 'lottery');
      await api.reveal(admin, 'lottery');
      lottery = await api.waitCampaign('lottery', 'revealed', (c) => !!c.seed);

      // A random queue: 60 users in the pre-queue, the opening, 5 after it.
      await api.createCampaign(admin, {
        id: 'randomq',
        stock: 10,
        win_bps: 5000,
        queueing: 'random',
        opens_at_ms: Date.now() + 4000,
      });
      const early60 = await h.tokens('r', 60);
      await api.enterMany(early60.map((u) => u.token), 'randomq', { concurrency: 20 });
      await api.waitCampaign('randomq', 'opened and drawn', (c) => c.drawn === 60, { timeoutMs: 20000 });
      const late = await h.tokens('late', 5);
      await api.enterMany(late.map((u) => u.token), 'randomq');
      await api.waitCampaign('randomq', 'all drawn', (c) => c.drawn === 65);
      await api.close(admin, 'randomq');
      await api.reveal(admin, 'randomq');
      await api.waitCampaign('randomq', 'revealed', (c) => !!c.seed);
      // And one campaign still open.
      await api.createCampaign(admin, { id: 'stillopen', stock: 1, win_bps: 100 });
    });

    let exported;
    await h.step('the export: pages of 37 equal one page, and ticketctl export writes the same bytes', async () => {
      exported = await exportOf(srv, 'lottery');
      assertEqual(await exportOf(srv, 'lottery', 37), exported, 'pages of 37');
      const file = path.join(h.args.out, 'lottery.ndjson');
      await h.ticketctl(['--data-dir', srv.dataDir, 'export', '--campaign', 'lottery', '--out', file]);
      assert(fs.readFileSync(file, 'utf8') === exported, 'ticketctl export equals the HTTP export');
    });

    await h.step('the checker in Node agrees with the engine on every draw', async () => {
      const check = new LedgerCheck();
      for (const line of exported.trimEnd().split('\n')) check.addLine(line);
      const report = await check.finish();
      assertEqual(report.mismatchCount, 0, `mismatches ${JSON.stringify(report.mismatches.slice(0, 3))}`);
      assert(report.everyDrawChecks, 'every draw checks out');
      assertEqual(report.totals.drawn, 300, 'draws');
      assertEqual(report.totals.won, lottery.won, 'wins (a later cancellation included, as the API counts them)');
      assertEqual(report.totals.lost, lottery.lost, 'losses');
      assertEqual(report.totals.sold_out, lottery.sold_out, 'sold out');
      assertEqual(report.totals.cancelled, 1, 'cancelled');
      assertEqual(report.seedHex, lottery.seed, 'seed');
      assertEqual(report.commitmentHex, lottery.seed_commitment, 'commitment');
      // A flipped outcome is found at its position (and nowhere else).
      const lines = exported.trimEnd().split('\n');
      const i = lines.findIndex((l) => l.includes('"outcome":"OUTCOME_LOST"'));
      const tampered = [...lines];
      tampered[i] = lines[i].replace('"outcome":"OUTCOME_LOST"', '"outcome":"OUTCOME_WON"');
      const bad = new LedgerCheck();
      for (const line of tampered) bad.addLine(line);
      const r2 = await bad.finish();
      const position = JSON.parse(lines[i]).draw_resolved.position;
      assertEqual(r2.mismatches.map((m) => [m.check, m.position]), [['outcomes', position]], 'the flipped outcome');
    });

    let tamperedFile;
    let flipped;
    await h.step('the page downloads the export and says every draw checks out (English, desktop)', async () => {
      const page = await h.page({ name: 'en' });
      await page.goto(`${srv.url}/verify/lottery`);
      await page.waitText('#verdict', /Every draw checks out/, { timeoutMs: 60000 });
      const st = await checkStatuses(page);
      for (const id of ['format', 'seed', 'positions', 'one_entry', 'admissions', 'draw_values', 'outcomes', 'stock', 'close_reveal']) {
        assertEqual(st[id], 'ok', `check ${id}`);
      }
      assertEqual(st.prequeue, 'na', 'prequeue of a FIFO queue');
      assertEqual(st.timing, 'not_checked', 'timing');
      assertEqual(st.completeness, 'not_checked', 'completeness');
      assert(['ok', 'outside'].includes(st.rate), 'rate checked');
      const text = await page.text('#result');
      assert(/could not check/i.test(text), 'says what it could not check');
      assert(!/verified/i.test(await page.text('body')), 'never says "verified"');
      assert((await page.text('#totals')).includes('300'), 'totals show 300 draws');
      assert(/99\.9% interval/.test(await page.text('#rate')), 'rate with its interval');
      // Search one user's line.
      await page.type('#search-user', 'v-7');
      await page.click('#search button');
      await page.waitText('#search-result', /holds position \d+/);
      assert((await page.text('#search-result')).includes('"user_id":"v-7"'), 'the user line is shown');
      await page.screenshot('verify');

      // Tamper: flip one LOST to WON, give the file to the page.
      const lines = exported.trimEnd().split('\n');
      const i = lines.findIndex((l) => l.includes('"outcome":"OUTCOME_LOST"') && l.includes('"user_id":"v-1'));
      flipped = JSON.parse(lines[i]).draw_resolved.position;
      lines[i] = lines[i].replace('"outcome":"OUTCOME_LOST"', '"outcome":"OUTCOME_WON"');
      tamperedFile = path.join(h.args.out, 'lottery-tampered.ndjson');
      fs.writeFileSync(tamperedFile, lines.join('\n') + '\n');
      const input = await page.raw.$('#file');
      await input.uploadFile(tamperedFile);
      await page.waitText('#verdict', /1 mismatch found/, { timeoutMs: 60000 });
      const rows = await page.evaluate(() =>
        [...document.querySelectorAll('#mismatches tbody tr')].map((tr) => [...tr.cells].map((c) => c.textContent)),
      );
      assertEqual(rows.length, 1, 'one mismatch row');
      assertEqual(rows[0][0], flipped, 'names the flipped position');
      assert(/outcome/i.test(rows[0][1]) && rows[0][2] === 'WON' && rows[0][3] === 'LOST', `row ${JSON.stringify(rows[0])}`);
      assert((await page.text('#status')).includes('lottery-tampered.ndjson'), 'says the file was checked');
      await page.screenshot('verify-tampered');
      log(`  tampered position ${flipped} named`);
    });

    await h.step('a random queue: the pre-queue order re-derived from the seed', async () => {
      const page = await h.page({ name: 'random' });
      await page.goto(`${srv.url}/verify/randomq`);
      await page.waitText('#verdict', /Every draw checks out/, { timeoutMs: 60000 });
      const st = await checkStatuses(page);
      assertEqual(st.prequeue, 'ok', 'prequeue checked');
      assert((await page.text('#totals')).includes('60'), 'pre-queued users counted');
    });

    await h.step('Korean at 360 px: no horizontal scroll; the switch gives English', async () => {
      const page = await h.page({ name: 'ko360', lang: 'ko', viewport: { width: 360, height: 740 } });
      await page.goto(`${srv.url}/verify/lottery`);
      await page.waitText('#verdict', /모든 추첨이 규칙과 일치합니다/, { timeoutMs: 60000 });
      assert((await page.text('h1')).includes('추첨 검증'), 'Korean title');
      const scroll = await page.noHorizontalScroll();
      assert(scroll.ok, `no horizontal scroll at 360 px: ${JSON.stringify(scroll)}`);
      await page.screenshot('verify-ko-360');
      const input = await page.raw.$('#file');
      await input.uploadFile(tamperedFile);
      await page.waitText('#verdict', /불일치 1건 발견/, { timeoutMs: 60000 });
      const scroll2 = await page.noHorizontalScroll();
      assert(scroll2.ok, `no horizontal scroll with the mismatch table: ${JSON.stringify(scroll2)}`);
      await page.click('#lang');
      await page.waitText('#verdict', /1 mismatch found/);
      assertEqual(await page.evaluate(() => document.documentElement.lang), 'en', 'lang attribute follows the switch');
    });

    await h.step('an unrevealed campaign: says so, and asks for no export', async () => {
      const page = await h.page({ name: 'open' });
      const asked = [];
      page.raw.on('request', (r) => asked.push(r.url()));
      await page.goto(`${srv.url}/verify/stillopen`);
      await page.waitText('#status', /has not revealed its seed yet/);
      assert(!asked.some((u) => /\/v1\/campaigns\/[^/]+\/ledger/.test(u)), 'no export request before the reveal');
      assert(await page.evaluate(() => document.getElementById('result').hidden), 'no verdict');
    });

    await until('nothing else', async () => true);
  },
  { timeoutMs: 240000 },
);
