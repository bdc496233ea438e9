// The waiting room of one drop (/drops/{id}).
//
// Sign in (production: #token=<JWT> exchanged for an HttpOnly cookie; with
// ticketd --dev also any name), enter once (an Idempotency-Key kept in
// localStorage, so a retry after a lost answer never enters twice), then
// follow the entry over the live channel (SSE, the same-origin cookie):
// position, people ahead, estimated wait, admission state and the outcome.
//
// A win with a hold (the campaign's hold_s) shows a live countdown to its
// deadline ("pay within mm:ss") and, once it passes or the entry turns
// expired, says so; the shop's confirmation turns it confirmed. A waitlisted
// entry (a draw at close) shows its current place on the waitlist, which the
// live channel pushes as others are promoted; a promotion turns it into a
// win with its own hold. The stream stays open while an entry can still
// change (queued, a held win, waitlisted) and ends at a final status.
//
// A campaign with items (time slots, sizes) lists them with the places left,
// kept live from the stream (each message carries every item's stock_left)
// and from the campaign; a full one is disabled. choose=at_entry: the user
// picks a slot and a number of places before entering (the entry POST names
// them). choose=on_admission: everyone queues; when admitted (status
// "admitted") the page counts down to choose_until_ms ("choose within
// mm:ss") and the user books a slot (POST entries/me/choice); an item_full
// refusal says so and lets them pick another, and a deadline passed without
// a choice ends as choice_expired.
//
// No request of a normal visit answers 4xx: whether this user has an entry
// is learnt from the live channel's first message (a user without an entry
// gets one without a status), and GET entries/me is asked only when this
// browser remembers entering. A lost stream is reopened with backoff
// (1 s doubling to 30 s, ±20%), resuming from its last event id; while it is
// down for long the entry is polled, never faster than every 10 s.
import {
  api, el, showError, errorText, getSession, devSignIn, exchangeToken, signOut, takeTokenFromFragment,
  idFromPath, randomId, storageGet, storageSet, $,
} from './common.js';
import { t, applyI18n, mountLangSwitch, fmtInt, fmtPct, fmtTime, fmtDuration } from './i18n.js';

// Decided: the entry has left the queue (the outcome section shows it).
const DECIDED = new Set(['won', 'lost', 'sold_out', 'cancelled', 'rejected', 'confirmed', 'expired', 'waitlisted', 'choice_expired']);
// A cancelled entry was a win given back (the engine cancels only won
// entries); confirmed and expired were wins; waitlisted was drawn eligible.
const DRAWN = new Set(['won', 'lost', 'sold_out', 'cancelled', 'confirmed', 'expired', 'waitlisted', 'choice_expired']);
const ENDED = new Set(['lost', 'sold_out', 'cancelled', 'rejected', 'confirmed', 'expired', 'choice_expired']);
// Final: nothing more can happen to the entry, so the live channel ends. A
// held win (it may be confirmed, given back or expire) and a waitlisted
// entry (it may be promoted) are not final.
function isFinal(e) {
  if (!e) return false;
  if (e.status === 'won') return !(e.hold_until_ms > 0);
  return ENDED.has(e.status);
}
const POLL_MS = 10000; // fallback polling: never faster
const CAMPAIGN_REFRESH_MS = 15000;
const BACKOFF_MAX_S = 30;
const ANNOUNCE_EVERY_MS = 3000;

const id = idFromPath('/drops/');
const base = `/v1/campaigns/${encodeURIComponent(id)}`;

const S = {
  session: null,
  campaign: null,
  entry: null, // the last entry json with a status
  known: false, // the first answer about this user's entry has arrived
  conn: 'idle', // idle | connecting | live | down | polling | done
  es: null,
  lastEventId: '',
  attempts: 0,
  retryAt: 0,
  retryTimer: 0,
  pollTimer: 0,
  lastPoll: 0,
  pollOk: false,
  entering: false,
  announced: { text: '', at: 0, pending: '' },
  verify: null, // {state: 'idle'|'running'|'done', result}
  itemLeft: new Map(), // item id -> places left, as the stream last said
  choosing: false, // a choice POST is on its way
  itemError: '', // the last refusal of a pick (item_full, …), shown until the next pick
};

const recKey = () => `tl_entry:${S.session.user}:${id}`;
const record = () => storageGet(recKey()) || {};
const saveRecord = (r) => storageSet(recKey(), r);

// ---------------------------------------------------------------- rendering

function show(sel, on) {
  $(sel).hidden = !on;
}

function renderSession() {
  const box = $('#session');
  if (!S.session || !S.session.signed_in) {
    box.replaceChildren();
    return;
  }
  box.replaceChildren(
    el('span', { id: 'whoami', text: t('common.signed_in_as', { user: S.session.user }) }),
    el('button', { type: 'button', class: 'secondary small', id: 'signout', text: t('common.sign_out'), onclick: onSignOut }),
  );
}

function renderCampaign() {
  const c = S.campaign;
  if (!c) return;
  $('#title').textContent = c.title || c.id;
  document.title = `${c.title || c.id} · ${t('app.name')}`;
  const facts = [
    t('drop.stats', { stock: fmtInt(c.stock_left), total: fmtInt(totalUnits(c)), entries: fmtInt(c.entries) }),
    t('index.win', { pct: fmtPct(c.win_bps / 10000, 2) }),
    atClose() ? t('draw.at_close') : t(`queueing.${c.queueing}`),
    c.hold_s > 0 ? t('drop.hold_s', { d: fmtDuration(c.hold_s) }) : null,
    hasItems() ? (onAdmission() ? t('drop.items.mode.on_admission', { d: fmtDuration(c.choose_s) }) : t('drop.items.mode.at_entry')) : null,
    t(`status.${c.status}`),
  ].filter(Boolean);
  $('#campaign-meta').textContent = facts.join(' · ');
  $('#verify-full').href = `/verify/${encodeURIComponent(c.id)}`;
}

// Units ever on sale: the stock and restocks (with items, summed over them).
function totalUnits(c) {
  if (!Array.isArray(c.items) || c.items.length === 0) return c.stock + (c.restocked || 0);
  return c.items.reduce((n, it) => n + (it.stock || 0) + (it.restocked || 0), 0);
}

function reasonText(code) {
  const s = t(`reason.${code}`);
  return s === `reason.${code}` ? code || '?' : s;
}

const atClose = () => !!(S.campaign && S.campaign.draw === 'at_close');

// mm:ss (h:mm:ss past an hour) of the time left, rounded up to the second.
function fmtClock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const two = (n) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${two(m)}:${two(s % 60)}`;
}

// A win held until hold_until_ms (the deadline to pay), by this browser's clock.
const heldWin = (e) => !!(e && e.status === 'won' && e.hold_until_ms > 0);
const holdPassed = (e) => heldWin(e) && e.hold_until_ms <= Date.now();

// A win that came from the waitlist (this browser saw the entry waitlisted,
// or the api says so).
const promoted = (e) => !!(e && e.status === 'won' && (e.promoted || record().waitlisted));

function outcomeText(e) {
  if (e.status === 'rejected') return t('drop.outcome.rejected', { reason: reasonText(e.reason) });
  if (holdPassed(e)) return t('drop.hold.expired');
  if (promoted(e)) return t('drop.outcome.promoted');
  return t(`drop.outcome.${e.status}`);
}

function stateText(e) {
  if (e.status === 'admitted') return t('drop.outcome.admitted');
  if (e.status === 'prequeued') return t('drop.state.prequeued');
  if (e.status === 'queued' && atClose()) return t('drop.state.at_close');
  if (e.admission_paused) return t('drop.state.paused');
  if (e.status === 'queued' && e.queue_distance === 0) return t('drop.state.admitted');
  return t('drop.state.queued');
}

// The connection line counts down every second, so it is no live region;
// screen readers hear only its changes of state, through the announcer.
function announceConn() {
  const was = S.connAnnounced || 'idle';
  const down = S.conn === 'down';
  if (down && was !== 'down') announce(t('drop.announce.down'), true);
  if (S.conn === 'live' && was === 'down') announce(t('drop.announce.up'), true);
  if (S.conn === 'live' || down) S.connAnnounced = S.conn;
}

function renderConn() {
  announceConn();
  const box = $('#conn');
  box.className = `conn ${S.conn}`;
  let text = '';
  if (S.conn === 'live') text = t('drop.live');
  else if (S.conn === 'connecting') text = t('drop.reconnecting');
  else if (S.conn === 'down') {
    const s = Math.max(0, Math.ceil((S.retryAt - Date.now()) / 1000));
    text = S.pollOk ? t('drop.polling', { s: POLL_MS / 1000 }) : t('drop.disconnected', { s });
  }
  $('#conn-text').textContent = text;
  box.hidden = S.conn === 'idle' || S.conn === 'done';
  // While the stream is down the numbers are the last known: shown dimmed.
  $('#queue').classList.toggle('stale', S.conn === 'down' && !S.pollOk);
}

function renderEntry() {
  const e = S.entry;
  const c = S.campaign;
  const signedIn = S.session && S.session.signed_in;
  const decided = !!(e && DECIDED.has(e.status));
  const open = c && c.status === 'open';
  show('#signin', !!c && !signedIn);
  show('#enter', !!(signedIn && S.known && !e && open));
  // Entered but not yet decided (the stream's first word can come first):
  // the button waits rather than invite a second entry.
  const pending = S.entering || (signedIn && !e && !!record().entered);
  $('#enter-btn').disabled = pending;
  $('#enter-btn').textContent = pending ? t('drop.entering') : t('drop.enter');
  const closedNoEntry = signedIn && S.known && !e && c && !open;
  show('#closed', !!closedNoEntry);
  if (closedNoEntry) $('#closed').textContent = t('drop.closed_no_entry');
  if (!signedIn && c && !open) {
    show('#closed', true);
    $('#closed').textContent = t('drop.closed');
  }
  show('#queue', !!(signedIn && e && !decided));
  if (e && !decided) {
    const queued = e.status === 'queued';
    $('#position').textContent = queued ? fmtInt(e.position) : t('common.none');
    $('#ahead').textContent = queued ? fmtInt(e.people_ahead) : t('common.none');
    $('#wait').textContent = !queued ? t('common.none') : e.estimated_wait_s === null ? t('drop.wait_paused') : fmtDuration(e.estimated_wait_s);
    $('#serving').textContent = queued ? fmtInt(e.serving) : t('common.none');
    const start = record().start || e.queue_distance || 1;
    const pct = queued ? Math.round(100 * (1 - Math.min(e.queue_distance, start) / Math.max(start, 1))) : 0;
    $('#progress').value = pct;
    $('#progress').setAttribute('aria-valuetext', `${pct}%`);
    $('#state').textContent = stateText(e);
    const prequeued = e.status === 'prequeued';
    // Before a random queue opens there is no place yet: the opening instead.
    // A draw at close has no turn to wait for: everyone is drawn at close.
    const choosing = e.status === 'admitted';
    show('#stats', !prequeued && !atClose() && !choosing);
    show('#progress-box', !prequeued && !atClose() && !choosing);
    show('#opens', prequeued && !!e.opens_at_ms);
    if (prequeued && e.opens_at_ms) {
      const left = Math.max(0, Math.ceil((e.opens_at_ms - Date.now()) / 1000));
      $('#opens').textContent = `${t('drop.opens_at', { time: fmtTime(e.opens_at_ms) })} ${t('drop.opens_in', { d: fmtDuration(left) })}`;
      clearTimeout(S.opensTimer);
      S.opensTimer = setTimeout(renderEntry, 1000);
    }
  }
  show('#outcome', decided);
  if (decided) {
    const o = $('#outcome-text');
    const passed = holdPassed(e);
    o.className = `outcome ${passed ? 'expired' : e.status}`;
    o.textContent = outcomeText(e);
    o.dataset.outcome = e.status;
    o.dataset.promoted = String(promoted(e));
    const meta = e.position ? [t('drop.outcome_meta', { pos: fmtInt(e.position), user: e.user })] : [];
    const it = e.item_id ? itemById(e.item_id) : null;
    if (e.item_id && e.status !== 'choice_expired') meta.push(t('drop.item_meta', { label: it ? it.label || it.id : e.item_id, q: fmtInt(e.quantity || 1) }));
    $('#outcome-meta').textContent = meta.join(' · ');
    $('#leave').hidden = e.status !== 'won' || passed;
  }
  renderHold();
  renderItems();
  show('#waitlist', !!(decided && e.status === 'waitlisted'));
  if (decided && e.status === 'waitlisted') $('#waitlist-rank').textContent = fmtInt(e.waitlist_rank);
  // A winner's signed admission pass (the API hands it to the winner alone;
  // a held win's pass expires with the hold).
  const pass = decided && e.status === 'won' && !holdPassed(e) && typeof e.pass === 'string' ? e.pass : '';
  show('#pass', !!pass);
  if (pass && $('#pass-text').value !== pass) $('#pass-text').value = pass;
  renderVerify();
  renderConn();
}

// The hold countdown, redrawn on every second boundary while it runs. The
// deadline is the engine's (hold_until_ms, event time + hold_s); this
// browser's clock counts to it. When it passes the page says so at once:
// the engine turns the hold into expired on its next tick, and the stream
// then brings the status.
function renderHold() {
  clearTimeout(S.holdTimer);
  const e = S.entry;
  const held = heldWin(e);
  show('#hold', held);
  const box = $('#hold-left');
  if (!held) {
    box.dataset.state = '';
    return;
  }
  const left = e.hold_until_ms - Date.now();
  if (left > 0) {
    box.textContent = t('drop.hold.pay_within', { t: fmtClock(left) });
    box.className = 'countdown';
    box.dataset.state = 'held';
    $('#hold-note').textContent = t('drop.hold.until', { time: fmtTime(e.hold_until_ms) });
    S.holdTimer = setTimeout(renderEntry, left % 1000 || 1000);
    return;
  }
  box.textContent = t('drop.hold.expired');
  box.className = 'countdown expired';
  $('#hold-note').textContent = '';
  if (box.dataset.state !== 'expired') {
    box.dataset.state = 'expired';
    announce(t('drop.hold.expired'), true);
    // The outcome line, the pass and the give-back button change with it.
    setTimeout(renderEntry, 0);
  }
}

// ---------------------------------------------------------------- items

const items = () => (S.campaign && Array.isArray(S.campaign.items) ? S.campaign.items : []);
const hasItems = () => items().length > 0;
const onAdmission = () => !!(S.campaign && S.campaign.choose === 'on_admission');
const itemById = (itemId) => items().find((it) => it.id === itemId) || null;
const itemLabel = (it) => (it ? it.label || it.id : '');
// Places left: the stream's last word, else the campaign's.
function itemLeft(it) {
  const v = S.itemLeft.get(it.id);
  return v === undefined ? it.stock_left : v;
}
// Units one user may take of an item: its own maximum, within the campaign's
// (0 = 1), as the engine's QuantityMax.
function itemMax(it) {
  const c = S.campaign || {};
  const campaign = c.per_user_max > 0 ? c.per_user_max : 1;
  return it && it.per_user_max > 0 ? Math.min(it.per_user_max, campaign) : campaign;
}
const choosePassed = (e) => !!(e && e.status === 'admitted' && e.choose_until_ms > 0 && e.choose_until_ms <= Date.now());

// Whether this user picks a slot now: before entering (at_entry) or while
// admitted and before the deadline (on_admission).
function canPick() {
  if (!hasItems()) return false;
  const e = S.entry;
  const c = S.campaign;
  const signedIn = S.session && S.session.signed_in;
  if (onAdmission()) return !!(e && e.status === 'admitted' && !choosePassed(e));
  return !!(signedIn && S.known && !e && c.status === 'open');
}

const pickedId = () => {
  const r = document.querySelector('#slots input[name="slot"]:checked');
  return r ? r.value : '';
};

// The places left of each item, from a live message: [{id, stock_left}] or
// {id: stock_left}. A slot that turns full while this user picks is
// announced, and unchecked if it was the one picked.
function applyItems(list) {
  const pairs = Array.isArray(list)
    ? list.filter((x) => x && typeof x === 'object').map((x) => [x.id, x.stock_left])
    : Object.entries(list || {});
  let changed = false;
  for (const [itemId, left] of pairs) {
    if (typeof itemId !== 'string' || typeof left !== 'number') continue;
    const it = itemById(itemId);
    const before = it ? itemLeft(it) : undefined;
    if (before === left) continue;
    S.itemLeft.set(itemId, left);
    changed = true;
    if (it && left === 0 && before > 0 && canPick()) announce(t('drop.items.now_full', { label: itemLabel(it) }), true);
  }
  return changed;
}

function renderItems() {
  const c = S.campaign;
  const e = S.entry;
  const pick = canPick();
  const visible = !!(c && hasItems() && (pick || (c.status === 'open' && !(e && DECIDED.has(e.status)))));
  show('#items', visible);
  renderChoose();
  if (!visible) return;
  const box = $('#slots');
  const list = items();
  const ids = list.map((it) => it.id).join('\n');
  if (box.dataset.ids !== ids) {
    box.dataset.ids = ids;
    box.replaceChildren(
      ...list.map((it, i) => {
        const input = el('input', { type: 'radio', name: 'slot', value: it.id, id: `slot-${i}`, 'aria-describedby': `slot-left-${i}` });
        input.addEventListener('change', () => {
          S.itemError = '';
          renderItems();
        });
        return el('label', { class: 'slot', for: `slot-${i}`, dataset: { item: it.id } },
          input,
          el('span', { class: 'slot-label', text: itemLabel(it) }),
          el('span', { class: 'slot-left', id: `slot-left-${i}` }));
      }),
    );
  }
  list.forEach((it, i) => {
    const left = itemLeft(it);
    const full = left <= 0;
    const label = box.children[i];
    const input = label.querySelector('input');
    label.classList.toggle('full', full);
    label.dataset.full = String(full);
    label.dataset.left = String(left);
    label.querySelector('.slot-left').textContent = full ? t('drop.items.full') : left === 1 ? t('drop.items.left_one') : t('drop.items.left', { n: fmtInt(left) });
    label.querySelector('.slot-label').textContent = itemLabel(it);
    if (full && input.checked) input.checked = false;
    input.disabled = !pick || full || S.choosing;
  });
  $('#slots-legend').textContent = pick ? t('drop.items.pick') : t('drop.items.title');
  // The number of places: up to the picked slot's maximum.
  const it = itemById(pickedId());
  const max = it ? itemMax(it) : itemMax(null);
  show('#qty-box', pick && max > 1);
  const q = $('#qty');
  q.max = String(max);
  q.disabled = !pick || S.choosing;
  $('#qty-label').textContent = t('drop.items.quantity', { max: fmtInt(max) });
  const btn = $('#choose-btn');
  show('#choose-btn', pick && onAdmission());
  btn.disabled = S.choosing;
  btn.textContent = S.choosing ? t('drop.choose.booking') : t('drop.choose.book');
  const err = $('#items-error');
  err.hidden = !S.itemError;
  err.textContent = S.itemError;
}

// The time left to choose (on_admission), redrawn every second while it runs.
function renderChoose() {
  clearTimeout(S.chooseTimer);
  const e = S.entry;
  const admitted = !!(e && e.status === 'admitted' && e.choose_until_ms > 0);
  show('#choose-timer', admitted);
  const box = $('#choose-left');
  if (!admitted) {
    box.dataset.state = '';
    return;
  }
  const left = e.choose_until_ms - Date.now();
  if (left > 0) {
    box.textContent = t('drop.choose.within', { t: fmtClock(left) });
    box.className = 'countdown';
    box.dataset.state = 'choosing';
    $('#choose-note').textContent = t('drop.choose.until', { time: fmtTime(e.choose_until_ms) });
    S.chooseTimer = setTimeout(renderEntry, left % 1000 || 1000);
    return;
  }
  box.textContent = t('drop.choose.over');
  box.className = 'countdown expired';
  $('#choose-note').textContent = '';
  if (box.dataset.state !== 'over') {
    box.dataset.state = 'over';
    announce(t('drop.choose.over'), true);
    // The engine turns it choice_expired on its next tick; the stream brings it.
    setTimeout(renderEntry, 0);
  }
}

// The picked slot and number of places, or null with the reason shown.
function readPick() {
  const it = itemById(pickedId());
  if (!it) {
    S.itemError = t('drop.items.none_picked');
    return null;
  }
  const max = itemMax(it);
  const raw = $('#qty-box').hidden ? '1' : $('#qty').value.trim();
  const q = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isInteger(q) || q < 1 || q > max) {
    S.itemError = t('drop.items.quantity_invalid', { max: fmtInt(max) });
    return null;
  }
  S.itemError = '';
  return { item: it, quantity: q };
}

// Books the picked slot (on_admission). One Idempotency-Key per pick: a
// retry of the same pick after a lost answer reuses it; a new pick after a
// refusal is a new request.
async function choose() {
  if (S.choosing) return;
  const pick = readPick();
  if (!pick) {
    renderItems();
    announce(S.itemError, true);
    return;
  }
  const r = record();
  const sig = `${pick.item.id}:${pick.quantity}`;
  if (!r.choice || r.choice.sig !== sig) r.choice = { sig, idem: randomId() };
  saveRecord(r);
  S.choosing = true;
  showError($('#error'), null);
  render();
  const res = await api(`${base}/entries/me/choice`, {
    method: 'POST',
    headers: { 'Idempotency-Key': r.choice.idem },
    body: { item_id: pick.item.id, quantity: pick.quantity },
  });
  S.choosing = false;
  const code = res.error && res.error.code;
  if (res.ok) {
    if (res.body && res.body.status) onEntry(res.body);
  } else if (code === 'item_full') {
    // Fewer places left than asked: this user may pick again until the deadline.
    const now = record();
    delete now.choice;
    saveRecord(now);
    S.itemError = t('drop.choose.item_full', { label: itemLabel(pick.item), q: fmtInt(pick.quantity) });
    announce(S.itemError, true);
    refreshCampaign();
  } else if (code === 'choice_expired' || code === 'already_chosen' || code === 'not_admitted') {
    S.itemError = reasonText(code);
    const me = await api(`${base}/entries/me`);
    if (me.ok) onEntry(me.body);
  } else if (code && t(`reason.${code}`) !== `reason.${code}`) {
    S.itemError = reasonText(code);
    announce(S.itemError, true);
  } else {
    showError($('#error'), res);
  }
  render();
}

function render() {
  applyI18n();
  renderSession();
  renderCampaign();
  show('#loading', !S.campaign && !$('#error').textContent);
  renderEntry();
}

// Screen readers hear position changes through the live region, at most one
// every few seconds (a fast queue would otherwise talk without pause); state
// changes (admitted, the outcome) at once.
function announce(text, urgent = false) {
  const a = S.announced;
  if (text === a.text) return;
  const now = Date.now();
  if (!urgent && now - a.at < ANNOUNCE_EVERY_MS) {
    a.pending = text;
    clearTimeout(a.timer);
    a.timer = setTimeout(() => announce(a.pending, true), ANNOUNCE_EVERY_MS - (now - a.at));
    return;
  }
  clearTimeout(a.timer);
  a.text = text;
  a.at = now;
  $('#announce').textContent = text;
}

// ---------------------------------------------------------------- the entry

function onEntry(e) {
  if (!e || typeof e !== 'object') return;
  // Every item's places left ride along (the live channel's campaign part).
  if (e.items) applyItems(e.items);
  if (e.campaign && typeof e.campaign === 'object' && e.campaign.items) applyItems(e.campaign.items);
  // A campaign-only message (no user): the items alone.
  if (!('user' in e) && !('status' in e) && (e.items || e.campaign)) return render();
  S.known = true;
  if (!e.status) {
    // No entry for this user (yet). A closed drop will never have one.
    S.entry = null;
    if (S.campaign && S.campaign.status === 'closed') closeStream('done');
    render();
    return;
  }
  const prev = S.entry;
  S.entry = e;
  const r = record();
  let changed = !r.entered;
  r.entered = true;
  if (e.status === 'queued' && (r.start === undefined || e.queue_distance > r.start || r.position !== e.position)) {
    r.start = e.queue_distance;
    r.position = e.position;
    changed = true;
  }
  if (changed) saveRecord(r);
  if (e.status === 'waitlisted' && !r.waitlisted) {
    r.waitlisted = true;
    saveRecord(r);
  }
  if (DECIDED.has(e.status)) {
    const statusChanged = !prev || prev.status !== e.status;
    if (statusChanged) {
      let text = outcomeText(e);
      if (heldWin(e) && !holdPassed(e)) text = t('drop.announce.hold', { t: fmtClock(e.hold_until_ms - Date.now()) });
      if (e.status === 'waitlisted') text = `${text} ${t('drop.announce.rank', { rank: fmtInt(e.waitlist_rank) })}`;
      announce(text, true);
    } else if (e.status === 'waitlisted' && prev.waitlist_rank !== e.waitlist_rank) {
      announce(t('drop.announce.rank', { rank: fmtInt(e.waitlist_rank) }));
    }
    if (isFinal(e)) closeStream('done');
    if (!prev || !DECIDED.has(prev.status) || statusChanged) setTimeout(() => $('#outcome-text').focus(), 0);
    if (statusChanged) refreshCampaign();
  } else if (e.status === 'queued') {
    if (e.queue_distance === 0) announce(t('drop.announce.admitted'), true);
    else announce(t('drop.announce.position', { pos: fmtInt(e.position), ahead: fmtInt(e.people_ahead) }));
  } else if (e.status === 'prequeued') {
    announce(t('drop.state.prequeued'), !prev || prev.status !== 'prequeued');
  } else if (e.status === 'admitted' && (!prev || prev.status !== 'admitted')) {
    announce(t('drop.announce.choose', { t: fmtClock(e.choose_until_ms - Date.now()) }), true);
    refreshCampaign();
    setTimeout(() => {
      const first = document.querySelector('#slots input:not(:disabled)');
      if (first) first.focus();
    }, 0);
  }
  render();
}

async function enter() {
  if (S.entering) return;
  // at_entry with items: the entry names the slot and the places.
  let body;
  if (hasItems() && !onAdmission()) {
    const pick = readPick();
    if (!pick) {
      render();
      announce(S.itemError, true);
      return;
    }
    body = { item_id: pick.item.id, quantity: pick.quantity };
  }
  const r = record();
  if (!r.idem) r.idem = randomId(); // kept until this entry is known: a retry reuses it
  saveRecord(r);
  S.entering = true;
  showError($('#error'), null);
  render();
  const res = await api(`${base}/entries`, { method: 'POST', headers: { 'Idempotency-Key': r.idem }, body });
  S.entering = false;
  if (res.ok || (res.status === 409 && res.error && res.error.code === 'duplicate')) {
    const now = record();
    now.entered = true;
    saveRecord(now);
    // The stream (open since sign-in) brings the position within a moment.
    if (!S.es) openStream();
  } else {
    showError($('#error'), res);
  }
  render();
}

// ---------------------------------------------------------------- the stream

function closeStream(next) {
  if (S.es) {
    S.es.close();
    S.es = null;
  }
  clearTimeout(S.retryTimer);
  if (next === 'done') stopPolling();
  S.conn = next || 'idle';
  renderConn();
}

function openStream() {
  if (S.es) return;
  clearTimeout(S.retryTimer);
  const url = `${base}/events${S.lastEventId ? `?last_event_id=${encodeURIComponent(S.lastEventId)}` : ''}`;
  const es = new EventSource(url);
  S.es = es;
  S.conn = 'connecting';
  renderConn();
  es.addEventListener('open', () => {
    if (S.es !== es) return;
    S.conn = 'live';
    renderConn();
  });
  es.addEventListener('status', (ev) => {
    if (S.es !== es) return;
    if (ev.lastEventId) S.lastEventId = ev.lastEventId;
    S.attempts = 0;
    S.pollOk = false;
    S.conn = 'live';
    stopPolling();
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch {
      return;
    }
    onEntry(data);
  });
  // A campaign message of its own (the items' places left), if the server
  // sends one apart from the entry's.
  for (const name of ['campaign', 'items']) {
    es.addEventListener(name, (ev) => {
      if (S.es !== es) return;
      try {
        const data = JSON.parse(ev.data);
        if (applyItems(Array.isArray(data) ? data : data.items)) render();
      } catch {
        /* not ours */
      }
    });
  }
  es.addEventListener('error', () => {
    if (S.es !== es) return;
    // Our own backoff replaces EventSource's fixed retry, so the screen can
    // say when the next attempt is, and resume from the last event id.
    es.close();
    S.es = null;
    if (isFinal(S.entry)) return closeStream('done');
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  S.attempts += 1;
  const s = Math.min(BACKOFF_MAX_S, 2 ** (S.attempts - 1)) * (0.8 + 0.4 * Math.random());
  S.retryAt = Date.now() + s * 1000;
  S.conn = 'down';
  clearTimeout(S.retryTimer);
  S.retryTimer = setTimeout(openStream, s * 1000);
  startPolling();
  tickCountdown();
}

function tickCountdown() {
  renderConn();
  if (S.conn === 'down') setTimeout(tickCountdown, 1000);
}

// While the stream is down the entry is still asked for, every 10 s (a
// proxy that buffers SSE would otherwise leave the page frozen).
function startPolling() {
  if (S.pollTimer || !record().entered) return;
  const due = Math.max(0, S.lastPoll + POLL_MS - Date.now());
  S.pollTimer = setTimeout(poll, Math.max(due, POLL_MS));
}

function stopPolling() {
  clearTimeout(S.pollTimer);
  S.pollTimer = 0;
}

async function poll() {
  S.pollTimer = 0;
  if (S.conn === 'live' || S.conn === 'done') return;
  S.lastPoll = Date.now();
  const r = await api(`${base}/entries/me`);
  if (r.ok) {
    S.pollOk = true;
    onEntry(r.body);
  }
  if (S.conn !== 'live' && S.conn !== 'done') startPolling();
}

// ---------------------------------------------------------------- the campaign

async function refreshCampaign() {
  const r = await api(base);
  if (r.ok) {
    S.campaign = r.body;
    // The campaign is the fresher word while the stream is not live.
    if (S.conn !== 'live') S.itemLeft.clear();
    render();
  }
  return r;
}

// Kept fresh while the page is open (stock left, closed, the revealed seed).
// Once the seed is revealed nothing more changes: the loop ends.
function campaignLoop() {
  if (S.campaign && S.campaign.seed) return;
  setTimeout(async () => {
    if (document.visibilityState === 'visible') await refreshCampaign();
    campaignLoop();
  }, CAMPAIGN_REFRESH_MS);
}

// ---------------------------------------------------------------- verify my draw

function renderVerify() {
  const e = S.entry;
  const c = S.campaign;
  const drawn = e && DRAWN.has(e.status);
  show('#verify', !!(e && DECIDED.has(e.status) && e.status !== 'rejected'));
  // The receipt (Merkle inclusion proof) exists once the drop closed with a root.
  $('#verify-receipt').hidden = !(e && e.position && c && c.merkle_root);
  if (c) $('#verify-receipt').href = `/verify/${encodeURIComponent(c.id)}#receipt`;
  if (!e) return;
  const out = $('#verify-out');
  const revealed = !!(c && c.seed);
  $('#verify-btn').hidden = !(drawn && revealed);
  $('#verify-lead').hidden = !(drawn && revealed);
  if (!drawn) {
    out.replaceChildren(el('p', { class: 'meta', text: t('drop.verify.no_draw') }));
    return;
  }
  if (!revealed) {
    out.replaceChildren(el('p', { class: 'meta', id: 'verify-wait', text: t('drop.verify.not_revealed') }));
    return;
  }
  const v = S.verify;
  if (!v || v.state !== 'done') {
    out.replaceChildren();
    return;
  }
  const r = v.result;
  if (r.error) {
    out.replaceChildren(el('p', { class: 'verdict unknown', id: 'verify-verdict', dataset: { verdict: 'unknown' }, text: t('drop.verify.unavailable', { why: r.error }) }));
    return;
  }
  const outcomeName = t(`outcome.${e.status}`);
  const items = [
    el('li', { class: r.seedOk ? 'pass' : 'fail', text: r.seedOk ? t('drop.verify.seed_ok') : t('drop.verify.seed_bad') }),
    el('li', { class: 'info' }, t('drop.verify.value', { v: '' }), el('code', { text: r.value })),
    el('li', { class: 'info' }, t('drop.verify.threshold', { pct: fmtPct(c.win_bps / 10000, 2), t: '' }), el('code', { text: r.threshold })),
    el('li', { class: 'info', text: r.under ? t('drop.verify.under') : t('drop.verify.over') }),
  ];
  if (r.entropy !== null && r.entropy !== undefined) items.splice(1, 0, el('li', { class: 'info', text: t('drop.verify.at_close_key', { v: r.entropy }) }));
  const good = r.seedOk && r.follows;
  out.replaceChildren(
    el('ul', { class: 'checks' }, items),
    el('p', {
      class: `verdict ${good ? 'pass' : 'fail'}`,
      id: 'verify-verdict',
      dataset: { verdict: good ? 'pass' : 'fail' },
      text: good ? t('drop.verify.follows', { outcome: outcomeName }) : t('drop.verify.contradicts', { outcome: outcomeName }),
    }),
  );
}

// Recomputes this user's draw from the revealed seed: the seed against its
// commitment, the draw value against the threshold. won and sold_out need a
// value under the threshold, lost one at or over it; whether stock remained
// at this position (won vs sold_out) depends on every draw before it and is
// the verifier page's check, not this panel's.
async function runVerify() {
  const e = S.entry;
  const c = S.campaign;
  S.verify = { state: 'running' };
  $('#verify-btn').disabled = true;
  let result;
  try {
    const draw = await import('./draw.js');
    const commitment = await draw.commitmentOf(c.seed);
    // A draw at close is keyed with the committed entropy value (draw.h).
    const committed = atClose() && !!c.entropy_source;
    const key = atClose() ? await draw.atCloseKey(c.seed, committed, c.entropy_value || '') : c.seed;
    const value = await (await draw.Drawer.create(key)).drawValue(c.id, e.position, e.user);
    const under = draw.isUnder(value, c.win_bps);
    const follows = e.status === 'lost' ? !under : under;
    result = {
      entropy: committed ? String(c.entropy_value || '') : null,
      seedOk: commitment === String(c.seed_commitment).toLowerCase(),
      value: value.toString(),
      threshold: draw.winThreshold(c.win_bps).toString(),
      under,
      follows,
    };
  } catch (err) {
    result = { error: String((err && err.message) || err) };
  }
  S.verify = { state: 'done', result };
  $('#verify-btn').disabled = false;
  renderVerify();
}

// ---------------------------------------------------------------- sign-in

async function afterSignIn() {
  S.entry = null;
  S.known = false;
  S.verify = null;
  render();
  const r = record();
  if (r.entered) {
    // This browser entered before: show the entry at once (reload, reopened tab).
    const res = await api(`${base}/entries/me`);
    if (res.ok) onEntry(res.body);
    else if (res.status === 404) saveRecord({ idem: r.idem }); // gone (a wiped server): the stream says
    else showError($('#error'), res);
  }
  if (!isFinal(S.entry)) openStream();
}

async function onDevSignIn(ev) {
  ev.preventDefault();
  const name = $('#dev-user').value.trim();
  if (!name) return;
  $('#dev-submit').disabled = true;
  const r = await devSignIn(name, false);
  $('#dev-submit').disabled = false;
  if (!r.ok) return showError($('#error'), r);
  showError($('#error'), null);
  S.session = r.body && r.body.signed_in ? r.body : await getSession();
  await afterSignIn();
}

async function onSignOut() {
  closeStream('idle');
  stopPolling();
  const r = await signOut();
  if (!r.ok) showError($('#error'), r);
  S.session = await getSession();
  S.entry = null;
  S.known = false;
  render();
}

// ---------------------------------------------------------------- leave

function confirmDialog(text) {
  const d = $('#confirm');
  $('#confirm-text').textContent = text;
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.showModal();
    $('#confirm-ok').focus();
  });
}

// Gives a win back (DELETE entries/me; the engine cancels only won entries
// and returns the unit to the stock). The answer waits for the decision.
async function leave() {
  if (!(await confirmDialog(t('drop.leave_confirm')))) return;
  $('#leave').disabled = true;
  const r = await api(`${base}/entries/me`, { method: 'DELETE', headers: { Prefer: 'wait=5' } });
  $('#leave').disabled = false;
  if (!r.ok) return showError($('#error'), r);
  showError($('#error'), null);
  if (r.body && r.body.status) onEntry(r.body);
}

// ---------------------------------------------------------------- start

async function main() {
  mountLangSwitch($('#lang'));
  window.addEventListener('tl-langchange', render);
  $('#dev-form').addEventListener('submit', onDevSignIn);
  $('#enter-btn').addEventListener('click', enter);
  $('#leave').addEventListener('click', leave);
  $('#verify-btn').addEventListener('click', runVerify);
  $('#choose-btn').addEventListener('click', choose);
  $('#qty').addEventListener('input', () => {
    S.itemError = '';
    $('#items-error').hidden = true;
  });
  window.addEventListener('online', () => {
    if (S.conn === 'down') openStream();
  });
  render();
  if (!id) {
    showError($('#error'), t('common.not_found', { id: '' }));
    return render();
  }
  const token = takeTokenFromFragment();
  if (token) {
    const r = await exchangeToken(token);
    if (!r.ok) showError($('#error'), `${t('common.sign_in')}: ${errorText(r)}`);
  }
  const [session, camp] = await Promise.all([getSession(), api(base)]);
  S.session = session;
  if (!camp.ok) {
    showError($('#error'), camp.status === 404 ? t('common.not_found', { id }) : errorText(camp));
    return render();
  }
  S.campaign = camp.body;
  $('#dev-form').hidden = !session.dev;
  $('#prod-signin').hidden = !!session.dev;
  campaignLoop();
  render();
  if (session.signed_in) await afterSignIn();
}

main();
