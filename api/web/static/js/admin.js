// The operator dashboard (/admin): every campaign live from
// GET /v1/admin/overview (polled every second), charts with uPlot, and the
// admin controls, each confirmed in a dialog and answered on screen.
import uPlot from '/assets/vendor/uPlot.esm.js';
import { api, el, showError, errorText, getSession, devSignIn, exchangeToken, signOut, $ } from './common.js';
import { t, applyI18n, mountLangSwitch, fmtInt, fmtPct, fmtDuration } from './i18n.js';

const POLL_MS = 1000;
const POLL_MAX_MS = 10000; // backoff while the server does not answer
const HISTORY = 600; // samples kept per campaign (10 min at 1 s)
const Z999 = 3.2905267314919255; // two-sided 99.9%

const S = {
  session: null,
  overview: null,
  selected: decodeURIComponent((location.hash.match(/^#c=(.+)$/) || [])[1] || ''),
  history: new Map(), // campaign id -> {t:[], entries:[], ...}
  polling: false,
  pollTimer: 0,
  failures: 0,
  lastOk: 0,
  charts: {},
  chartFor: '',
};

// ---------------------------------------------------------------- numbers

// Wilson score interval for k successes in n at z (here 99.9%).
export function wilson(k, n, z = Z999) {
  if (!n) return null;
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

// The observed win rate: a draw "wins" when its value is under the threshold,
// i.e. won or sold_out (sold out = would have won, stock gone), or, in a
// draw at close, waitlisted (eligible, after the stock). won counts
// promotions from the waitlist, which are not draws of their own.
function winStats(c) {
  const drawnWins = c.won - (c.promoted || 0);
  const k = drawnWins + c.sold_out + (c.waitlisted || 0);
  const n = k + c.lost;
  return { n, k, w: wilson(k, n), configured: c.win_bps / 10000 };
}

const queueLength = (c) => Math.max(0, c.entries - c.prequeued - c.serving);

function record(c, tms) {
  let h = S.history.get(c.id);
  if (!h) {
    h = { t: [], entries: [], serving: [], queue: [], rate: [], served: [], win: [], lo: [], hi: [], cfg: [] };
    S.history.set(c.id, h);
  }
  const ts = tms / 1000;
  const n = h.t.length;
  if (n && ts <= h.t[n - 1]) return h;
  let rate = null;
  let served = null;
  if (n) {
    const dt = ts - h.t[n - 1];
    rate = Math.max(0, (c.entries - h.entries[n - 1]) / dt);
    served = Math.max(0, (c.serving - h.serving[n - 1]) / dt);
  }
  const w = winStats(c);
  h.t.push(ts);
  h.entries.push(c.entries);
  h.serving.push(c.serving);
  h.queue.push(queueLength(c));
  h.rate.push(rate);
  h.served.push(served);
  h.win.push(w.w ? w.w.p * 100 : null);
  h.lo.push(w.w ? w.w.lo * 100 : null);
  h.hi.push(w.w ? w.w.hi * 100 : null);
  h.cfg.push(w.configured * 100);
  if (h.t.length > HISTORY) for (const k of Object.keys(h)) h[k].shift();
  return h;
}

const last = (arr) => (arr.length ? arr[arr.length - 1] : null);

// ---------------------------------------------------------------- rendering

function renderSession() {
  const box = $('#session');
  if (!S.session || !S.session.signed_in) return box.replaceChildren();
  box.replaceChildren(
    ...[
      el('span', { id: 'whoami', text: t('common.signed_in_as', { user: S.session.user }) }),
      S.session.admin ? el('span', { class: 'pill ok', text: t('common.admin') }) : null,
      el('button', { type: 'button', class: 'secondary small', id: 'signout', text: t('common.sign_out'), onclick: onSignOut }),
    ].filter(Boolean),
  );
}

function pill(text, cls, attrs = {}) {
  return el('span', { class: `pill ${cls}`, text, ...attrs });
}

function renderHealth() {
  const o = S.overview;
  if (!o) return;
  const ready = o.ready || {};
  const items = [
    pill(ready.ok ? t('admin.ready') : t('admin.not_ready', { reason: ready.reason || '?' }), ready.ok ? 'ok' : 'bad', { id: 'ready' }),
    pill(t('admin.role', { role: o.role || '?' }), ''),
  ];
  for (const p of o.projections || []) items.push(pill(`${p.store}: ${p.ok ? t('admin.ok') : t('admin.failing')}`, p.ok ? 'ok' : 'bad'));
  if (o.kafka) items.push(pill(t('admin.kafka_lag', { n: fmtInt(o.kafka.consumer_lag) }), o.kafka.consumer_lag > 0 ? 'warn' : 'ok'));
  $('#health').replaceChildren(...items);

  const head = (...cols) => el('thead', {}, el('tr', {}, cols.map((c) => el('th', { scope: 'col', text: c }))));
  $('#partitions').replaceChildren(
    head(t('admin.col.partition'), t('admin.col.decided'), t('admin.col.end'), t('admin.col.lag')),
    el('tbody', {}, (o.partitions || []).map((p) => el('tr', {}, el('td', { text: p.partition }), el('td', { text: fmtInt(p.decided_end) }), el('td', { text: fmtInt(p.end) }), el('td', { text: fmtInt(p.lag) })))),
  );
  const rows = (o.projections || []).map((p) =>
    el('tr', {}, el('td', { text: p.store }), el('td', {}, pill(p.ok ? t('admin.ok') : t('admin.failing'), p.ok ? 'ok' : 'bad')), el('td', { text: fmtInt(p.lag_events) }), el('td', { text: p.error || '' })),
  );
  rows.push(el('tr', {}, el('td', { text: 'kafka' }), el('td', { text: o.kafka ? '' : t('admin.kafka_none') }), el('td', { id: 'kafka-lag', text: o.kafka ? fmtInt(o.kafka.consumer_lag) : t('common.none') }), el('td')));
  $('#projections').replaceChildren(head(t('admin.col.store'), t('admin.col.health'), t('admin.col.lag_events'), t('admin.col.error')), el('tbody', {}, rows));
}

function renderCampaigns() {
  const o = S.overview;
  if (!o) return;
  const list = o.campaigns || [];
  $('#no-campaigns').hidden = list.length > 0;
  const head = el('thead', {}, el('tr', {}, [
    t('admin.col.campaign'), t('admin.col.status'), t('admin.k.entries'), t('admin.k.entries_s'), t('admin.k.queue'), t('admin.k.serving'),
    t('admin.k.stock_left'), t('admin.k.won'), t('admin.k.lost'), t('admin.k.sold_out'), t('admin.k.cancelled'),
    t('admin.k.confirmed'), t('admin.k.expired'), t('admin.k.waitlisted'), t('admin.k.promoted'),
  ].map((c) => el('th', { scope: 'col', text: c }))));
  const body = el('tbody', {}, list.map((c) => {
    const h = S.history.get(c.id);
    const rate = h ? last(h.rate) : null;
    const sel = c.id === S.selected;
    return el('tr', { dataset: { campaign: c.id }, 'aria-current': sel ? 'true' : null },
      el('td', {}, el('button', { type: 'button', class: `small ${sel ? '' : 'secondary'}`, 'aria-pressed': String(sel), text: c.id, onclick: () => select(c.id) })),
      el('td', {}, pill(t(`status.${c.status}`), c.status), c.admission_paused ? pill(t('admin.paused'), 'paused') : null),
      el('td', { text: fmtInt(c.entries) }),
      el('td', { text: rate === null ? t('common.none') : rate.toFixed(1) }),
      el('td', { text: fmtInt(queueLength(c)) }),
      el('td', { text: fmtInt(c.serving) }),
      el('td', { text: fmtInt(c.stock_left) }),
      el('td', { text: fmtInt(c.won) }),
      el('td', { text: fmtInt(c.lost) }),
      el('td', { text: fmtInt(c.sold_out) }),
      el('td', { text: fmtInt(c.cancelled) }),
      el('td', { text: fmtInt(c.confirmed || 0) }),
      el('td', { text: fmtInt(c.expired || 0) }),
      el('td', { text: fmtInt(c.waitlisted || 0) }),
      el('td', { text: fmtInt(c.promoted || 0) }),
    );
  }));
  $('#campaigns').replaceChildren(head, body);
}

function selectedCampaign() {
  const list = (S.overview && S.overview.campaigns) || [];
  return list.find((c) => c.id === S.selected) || null;
}

function renderDetail() {
  const c = selectedCampaign();
  $('#detail').hidden = !c;
  if (!c) return;
  const h = S.history.get(c.id);
  $('#detail-h').textContent = c.title ? `${c.title} (${c.id})` : c.id;
  $('#detail-pills').replaceChildren(
    ...[
      pill(t(`status.${c.status}`), c.status, { id: 'detail-status' }),
      c.admission_paused ? pill(t('admin.paused'), 'paused', { id: 'detail-paused' }) : null,
      c.seed ? pill(t('admin.revealed'), 'ok', { id: 'detail-revealed' }) : null,
    ].filter(Boolean),
  );
  const rate = h ? last(h.rate) : null;
  const served = h ? last(h.served) : null;
  const total = c.stock + (c.restocked || 0);
  const kv = [
    ['entries', fmtInt(c.entries)],
    ['entries_s', rate === null ? t('common.none') : rate.toFixed(1)],
    ['queue', fmtInt(queueLength(c))],
    ['prequeued', fmtInt(c.prequeued)],
    ['serving', fmtInt(c.serving)],
    ['admission', t('admin.admission_val', { cfg: c.admission_rate_per_s ? fmtInt(c.admission_rate_per_s) : '∞', obs: served === null ? t('common.none') : served.toFixed(1) })],
    ['paused', c.admission_paused ? t('common.yes') : t('common.no')],
    ['stock_left', `${fmtInt(c.stock_left)} / ${fmtInt(total)}`],
    ['drawn', fmtInt(c.drawn)],
    ['won', fmtInt(c.won)],
    ['lost', fmtInt(c.lost)],
    ['sold_out', fmtInt(c.sold_out)],
    ['cancelled', fmtInt(c.cancelled)],
    ['draw', t(c.draw === 'at_close' ? 'draw.at_close' : 'draw.instant')],
    ['hold', c.hold_s > 0 ? fmtDuration(c.hold_s) : t('common.none')],
    ['confirmed', fmtInt(c.confirmed || 0)],
    ['expired', fmtInt(c.expired || 0)],
    ['waitlisted', fmtInt(c.waitlisted || 0)],
    ['promoted', fmtInt(c.promoted || 0)],
    ['waitlist', fmtInt(Math.max(0, (c.waitlisted || 0) - (c.promoted || 0)))],
    ['wait', c.admission_rate_per_s ? fmtDuration(queueLength(c) / c.admission_rate_per_s) : t('common.none')],
  ];
  if (c.merkle_root) kv.push(['merkle_root', String(c.merkle_root)]);
  if (hasItems(c)) {
    kv.push(['choose', c.choose === 'on_admission' ? `${t('admin.choose.on_admission')} (${fmtDuration(c.choose_s)})` : t('admin.choose.at_entry')]);
    if (c.choose === 'on_admission') {
      kv.push(['admitted_choosing', fmtInt(c.admitted_choosing || 0)], ['chosen', fmtInt(c.chosen || 0)], ['choices_expired', fmtInt(c.choices_expired || 0)]);
    }
  }
  $('#counters').replaceChildren(...kv.map(([k, v]) => el('div', { dataset: { k } }, el('dt', { text: t(`admin.k.${k}`) }), el('dd', { id: `k-${k}`, text: v }))));
  const w = winStats(c);
  let text;
  if (!w.w) text = t('admin.win_none', { cfg: fmtPct(w.configured, 2) });
  else {
    const inside = w.configured >= w.w.lo && w.configured <= w.w.hi;
    text = t(inside ? 'admin.win_in' : 'admin.win_out', {
      obs: fmtPct(w.w.p, 2), k: fmtInt(w.k), n: fmtInt(w.n), lo: fmtPct(w.w.lo, 2), hi: fmtPct(w.w.hi, 2), cfg: fmtPct(w.configured, 2),
    });
  }
  $('#winrate').textContent = text;
  $('#detail-drop').href = `/drops/${encodeURIComponent(c.id)}`;
  $('#detail-verify').href = `/verify/${encodeURIComponent(c.id)}`;
  // Every control stays available: the API is the judge, and its refusal
  // (a reveal before close, a second close) is shown as it answers.
  // A campaign that committed to an entropy source closes with its value.
  const needsEntropy = !!c.entropy_source && c.status === 'open';
  $('#entropy-box').hidden = !needsEntropy;
  if (needsEntropy) $('#entropy-needed').textContent = t('admin.entropy_needed', { source: c.entropy_source });
  renderItems(c);
  $('#act-pause').disabled = c.admission_paused;
  $('#act-resume').disabled = !c.admission_paused;
  renderCharts(c, h);
}

// ---------------------------------------------------------------- items

const hasItems = (c) => Array.isArray(c.items) && c.items.length > 0;

// The per-item counters (places left, taken, confirmed, waitlisted) and a
// restock per item. The table is rebuilt only when the campaign or its items
// change, so a number being typed into a restock box survives the 1 s poll.
function renderItems(c) {
  const on = hasItems(c);
  $('#items-box').hidden = !on;
  // With items, a restock names its item: the campaign-wide form would be refused.
  $('#restock-form').hidden = on;
  if (!on) return;
  const table = $('#items-table');
  const key = `${c.id}\n${c.items.map((it) => it.id).join('\n')}\n${document.documentElement.lang}`;
  if (table.dataset.key !== key) {
    table.dataset.key = key;
    const head = el('thead', {}, el('tr', {}, [
      t('admin.col.item'), t('admin.col.label'), t('admin.col.left'), t('admin.col.taken'), t('admin.col.confirmed'), t('admin.col.waitlisted'), t('admin.col.restock'),
    ].map((h) => el('th', { scope: 'col', text: h }))));
    const body = el('tbody', {}, c.items.map((it, i) => {
      const input = el('input', { type: 'number', min: '1', step: '1', value: '1', id: `restock-item-${i}`, class: 'restock-item', 'aria-label': t('admin.restock_item_units', { item: it.label || it.id }) });
      const btn = el('button', { type: 'button', class: 'secondary small', dataset: { item: it.id }, text: t('admin.restock') });
      btn.addEventListener('click', () => restockItem(it.id, input));
      return el('tr', { dataset: { item: it.id } },
        el('th', { scope: 'row' }, el('code', { text: it.id })),
        el('td', { class: 'i-label' }),
        el('td', { class: 'i-left' }),
        el('td', { class: 'i-taken' }),
        el('td', { class: 'i-confirmed' }),
        el('td', { class: 'i-waitlisted' }),
        el('td', {}, el('span', { class: 'row' }, input, btn)));
    }));
    table.replaceChildren(head, body);
  }
  c.items.forEach((it, i) => {
    const row = table.tBodies[0].rows[i];
    const total = (it.stock || 0) + (it.restocked || 0);
    row.querySelector('.i-label').textContent = it.label || '';
    row.querySelector('.i-left').textContent = `${fmtInt(it.stock_left)} / ${fmtInt(total)}`;
    row.querySelector('.i-taken').textContent = fmtInt(Math.max(0, (it.taken || 0) - (it.returned || 0)));
    row.querySelector('.i-confirmed').textContent = fmtInt(it.confirmed || 0);
    row.querySelector('.i-waitlisted').textContent = fmtInt(Math.max(0, (it.waitlisted || 0) - (it.promoted || 0)));
    row.dataset.left = String(it.stock_left);
  });
}

async function restockItem(itemId, input) {
  const c = selectedCampaign();
  if (!c) return;
  const units = Number(input.value);
  if (!(Number.isInteger(units) && units > 0)) {
    return showAnswer($('#answer'), { ok: false, status: 0, network: true, error: { code: 'invalid', message: t('admin.units_invalid') } });
  }
  const body = { units, item_id: itemId };
  const ok = await confirmDialog(t('admin.restock'), t('admin.confirm.restock_item', { id: c.id, item: itemId, units }), body);
  if (!ok) return;
  const box = $('#answer');
  box.textContent = '…';
  const r = await api(`/v1/admin/campaigns/${encodeURIComponent(c.id)}/restock`, { method: 'POST', body });
  showAnswer(box, r);
  pollOnce();
}

// The create form's item rows: id, label, stock, per-user max; added and
// removed by the operator. No rows = a campaign without items.
function addItemRow(v = {}) {
  const rows = $('#c-item-rows');
  const n = rows.children.length + 1;
  const field = (name, labelKey, attrs) => {
    const fid = `c-item-${name}-${n}-${Math.random().toString(36).slice(2, 7)}`;
    return el('div', {}, el('label', { for: fid, text: t(labelKey) }), el('input', { id: fid, dataset: { f: name }, ...attrs }));
  };
  const row = el('div', { class: 'grid four item-row' },
    field('id', 'admin.f.item_id', { type: 'text', required: true, maxlength: '32', pattern: '[A-Za-z0-9._\\-]{1,32}', spellcheck: 'false', value: v.id || '' }),
    field('label', 'admin.f.item_label', { type: 'text', maxlength: '100', value: v.label || '' }),
    field('stock', 'admin.f.item_stock', { type: 'number', min: '0', step: '1', required: true, value: String(v.stock ?? 10) }),
    field('per_user_max', 'admin.f.item_max', { type: 'number', min: '0', max: '100', step: '1', value: String(v.per_user_max ?? 0) }),
  );
  const remove = el('button', { type: 'button', class: 'secondary small item-remove' });
  remove.addEventListener('click', () => {
    row.remove();
    renumberItemRows();
    $('#c-item-add').focus();
  });
  row.append(el('div', { class: 'actions' }, remove));
  rows.append(row);
  renumberItemRows();
  row.querySelector('input').focus();
}

function renumberItemRows() {
  [...$('#c-item-rows').children].forEach((row, i) => {
    const b = row.querySelector('.item-remove');
    b.textContent = t('admin.item_remove', { n: i + 1 });
  });
  // With items the campaign's stock is their sum: the field must say 0.
  const f = $('#create-form');
  if ($('#c-item-rows').children.length) f.elements.stock.value = '0';
}

// ---------------------------------------------------------------- charts

function chartWidth(id) {
  const box = $(id);
  return Math.max(240, Math.floor(box.getBoundingClientRect().width || 300));
}

function makeChart(id, series, yLabel) {
  const opts = {
    width: chartWidth(id),
    height: 200,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [{}, { label: yLabel, size: 56 }],
    series: [{}, ...series],
  };
  const h = [[], ...series.map(() => [])];
  return new uPlot(opts, h, $(id));
}

function renderCharts(c, h) {
  if (!h || !h.t.length) return;
  if (S.chartFor !== c.id || !S.charts.rate) {
    for (const ch of Object.values(S.charts)) ch.destroy();
    S.chartFor = c.id;
    S.charts = {
      rate: makeChart('#chart-rate', [
        { label: t('admin.k.entries_s'), stroke: '#1f5fd1', width: 2, spanGaps: true },
        { label: t('admin.s.served'), stroke: '#16794a', width: 2, spanGaps: true },
      ], '/s'),
      queue: makeChart('#chart-queue', [
        { label: t('admin.k.queue'), stroke: '#b42318', width: 2 },
        { label: t('admin.k.serving'), stroke: '#1f5fd1', width: 2 },
      ], ''),
      win: makeChart('#chart-win', [
        { label: t('admin.s.observed'), stroke: '#1f5fd1', width: 2, spanGaps: true },
        { label: t('admin.s.lo'), stroke: '#8fb0e8', dash: [4, 4], spanGaps: true },
        { label: t('admin.s.hi'), stroke: '#8fb0e8', dash: [4, 4], spanGaps: true },
        { label: t('admin.s.configured'), stroke: '#16794a', width: 2 },
      ], '%'),
    };
  }
  S.charts.rate.setData([h.t, h.rate, h.served]);
  S.charts.queue.setData([h.t, h.queue, h.serving]);
  S.charts.win.setData([h.t, h.win, h.lo, h.hi, h.cfg]);
}

function resizeCharts() {
  const ids = { rate: '#chart-rate', queue: '#chart-queue', win: '#chart-win' };
  for (const [k, ch] of Object.entries(S.charts)) ch.setSize({ width: chartWidth(ids[k]), height: 200 });
}

function renderPoll() {
  const p = $('#poll');
  if (!S.overview) return;
  const stale = S.failures > 0;
  p.className = `pill ${stale ? 'down' : 'live'}`;
  p.textContent = stale ? t('admin.poll_failing', { n: S.failures }) : t('admin.poll_live');
}

function render() {
  applyI18n();
  document.title = `${t('admin.title')} · ${t('app.name')}`;
  renderSession();
  const signedIn = S.session && S.session.signed_in;
  const admin = signedIn && S.session.admin;
  $('#loading').hidden = !!S.session;
  $('#signin').hidden = !S.session || admin;
  $('#not-admin').hidden = !(signedIn && !admin);
  if (signedIn && !admin) $('#not-admin').textContent = t('admin.not_admin', { user: S.session.user });
  $('#dash').hidden = !admin || !S.overview;
  if (admin && S.overview) {
    renderHealth();
    renderCampaigns();
    renderDetail();
    renderPoll();
  }
}

function select(id) {
  S.selected = id;
  history.replaceState(null, '', `#c=${encodeURIComponent(id)}`);
  $('#answer').textContent = '';
  $('#answer').classList.remove('error');
  render();
}

// ---------------------------------------------------------------- polling

async function pollOnce() {
  const r = await api('/v1/admin/overview');
  if (r.ok && r.body && typeof r.body === 'object') {
    S.overview = r.body;
    S.failures = 0;
    S.lastOk = Date.now();
    const tms = r.body.server_time_ms || Date.now();
    for (const c of r.body.campaigns || []) record(c, tms);
    if (!S.selected || !selectedCampaign()) {
      const list = r.body.campaigns || [];
      const pick = list.find((c) => c.status === 'open') || list[0];
      if (pick) S.selected = pick.id;
    }
    showError($('#error'), null);
  } else {
    S.failures += 1;
    if (r.status === 401 || r.status === 403) {
      // The session ended (expired, signed out elsewhere): sign in again.
      stopPolling();
      S.session = await getSession();
    }
    showError($('#error'), r);
  }
  render();
  return r;
}

function startPolling() {
  if (S.polling) return;
  S.polling = true;
  const loop = async () => {
    if (!S.polling) return;
    await pollOnce();
    if (!S.polling) return;
    const delay = S.failures ? Math.min(POLL_MAX_MS, POLL_MS * 2 ** S.failures) : POLL_MS;
    S.pollTimer = setTimeout(loop, delay);
  };
  loop();
}

function stopPolling() {
  S.polling = false;
  clearTimeout(S.pollTimer);
}

// ---------------------------------------------------------------- controls

function confirmDialog(title, text, body) {
  const d = $('#confirm');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-body').hidden = body === undefined;
  $('#confirm-body').textContent = body === undefined ? '' : JSON.stringify(body, null, 2);
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.returnValue = '';
    d.showModal();
    $('#confirm-ok').focus();
  });
}

function showAnswer(box, r) {
  box.classList.toggle('error', !r.ok);
  const body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body, null, 2);
  box.textContent = r.ok ? `${r.status}\n${body}` : `${errorText(r)}\n${r.network ? '' : body}`;
  box.dataset.status = String(r.status);
}

async function action(name) {
  const c = selectedCampaign();
  if (!c) return;
  let body = name === 'restock' ? { units: Number($('#restock-units').value) } : undefined;
  if (name === 'restock' && !(Number.isInteger(body.units) && body.units > 0)) {
    return showAnswer($('#answer'), { ok: false, status: 0, network: true, error: { code: 'invalid', message: t('admin.units_invalid') } });
  }
  // Close of a campaign committed to an entropy source: with the value (the
  // API refuses an empty one and says so).
  let confirmKey = `admin.confirm.${name}`;
  if (name === 'close' && c.entropy_source) {
    body = { entropy_value: $('#close-entropy').value };
    confirmKey = 'admin.confirm.close_entropy';
  }
  const ok = await confirmDialog(t(`admin.${name}`), t(confirmKey, { id: c.id, units: body ? body.units : '', value: body ? body.entropy_value : '' }), body);
  if (!ok) return;
  const box = $('#answer');
  box.textContent = '…';
  const r = await api(`/v1/admin/campaigns/${encodeURIComponent(c.id)}/${name}`, { method: 'POST', body });
  showAnswer(box, r);
  pollOnce();
}

function createBody() {
  const f = $('#create-form');
  const num = (name) => {
    const v = f.elements[name].value.trim();
    return v === '' ? undefined : Number(v);
  };
  const b = { id: f.elements.id.value.trim() };
  const title = f.elements.title.value.trim();
  if (title) b.title = title;
  b.stock = num('stock');
  b.win_bps = num('win_bps');
  for (const k of ['admission_rate_per_s', 'max_entries']) {
    const v = num(k);
    if (v !== undefined) b[k] = v;
  }
  b.queueing = f.elements.queueing.value;
  const hold = num('hold_s');
  if (hold) b.hold_s = hold;
  if (f.elements.draw.value !== 'instant') b.draw = f.elements.draw.value;
  const entropy = f.elements.entropy_source.value.trim();
  if (entropy) b.entropy_source = entropy;
  const opens = f.elements.opens_at.value;
  if (opens) b.opens_at_ms = new Date(opens).getTime();
  const perUser = num('per_user_max');
  if (perUser) b.per_user_max = perUser;
  const rows = [...$('#c-item-rows').children];
  if (rows.length) {
    b.items = rows.map((row) => {
      const get = (k) => row.querySelector(`[data-f="${k}"]`).value.trim();
      const it = { id: get('id'), stock: Number(get('stock') || 0) };
      if (get('label')) it.label = get('label');
      const m = Number(get('per_user_max') || 0);
      if (m) it.per_user_max = m;
      return it;
    });
    b.choose = f.elements.choose.value;
    if (b.choose === 'on_admission') b.choose_s = num('choose_s');
  }
  return b;
}

async function onCreate(ev) {
  ev.preventDefault();
  const body = createBody();
  const ok = await confirmDialog(t('admin.create'), t('admin.confirm.create', { id: body.id }), body);
  if (!ok) return;
  const box = $('#create-answer');
  box.textContent = '…';
  const r = await api('/v1/admin/campaigns', { method: 'POST', body });
  showAnswer(box, r);
  if (r.ok) S.selected = body.id;
  pollOnce();
}

// ---------------------------------------------------------------- sign-in

async function afterSession() {
  render();
  if (S.session.signed_in && S.session.admin) startPolling();
}

async function onDevSignIn(ev) {
  ev.preventDefault();
  const r = await devSignIn($('#dev-user').value.trim() || 'ops', true);
  if (!r.ok) return showError($('#error'), r);
  showError($('#error'), null);
  S.session = await getSession();
  afterSession();
}

async function onTokenSignIn(ev) {
  ev.preventDefault();
  const tok = $('#token').value.trim();
  $('#token').value = '';
  const r = await exchangeToken(tok);
  if (!r.ok) return showError($('#error'), r);
  showError($('#error'), null);
  S.session = await getSession();
  afterSession();
}

async function onSignOut() {
  stopPolling();
  await signOut();
  S.session = await getSession();
  S.overview = null;
  render();
}

async function main() {
  mountLangSwitch($('#lang'));
  window.addEventListener('tl-langchange', () => {
    // Series labels are in the charts: rebuild them in the new language.
    for (const ch of Object.values(S.charts)) ch.destroy();
    S.charts = {};
    for (const row of $('#c-item-rows').children) {
      const labels = row.querySelectorAll('label');
      ['admin.f.item_id', 'admin.f.item_label', 'admin.f.item_stock', 'admin.f.item_max'].forEach((k, i) => {
        labels[i].textContent = t(k);
      });
    }
    renumberItemRows();
    render();
  });
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(resizeCharts, 150);
  });
  $('#dev-form').addEventListener('submit', onDevSignIn);
  $('#token-form').addEventListener('submit', onTokenSignIn);
  $('#create-form').addEventListener('submit', onCreate);
  $('#c-item-add').addEventListener('click', () => addItemRow());
  $('#restock-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    action('restock');
  });
  for (const b of document.querySelectorAll('#controls [data-action]')) b.addEventListener('click', () => action(b.dataset.action));
  render();
  S.session = await getSession();
  $('#dev-form').hidden = !S.session.dev;
  afterSession();
}

main();
