// The public verifier page (/verify/{campaign}): downloads the campaign's
// ledger export (GET /v1/campaigns/{id}/ledger, every page) or reads a file
// the user saved, and re-checks it in the browser with ledger_check.js on
// the published rule (draw.js). It says "could not check" for whatever it
// could not check; it never says more than it checked.
//
// It also checks a receipt (merkle.js): a Merkle inclusion proof, pasted or
// fetched for the signed-in user (GET .../entries/me/proof), against the
// campaign's merkle_root (the campaign JSON, or the export's campaign_closed
// once it was checked).
import { LedgerCheck } from './ledger_check.js';
import { checkReceipt } from './merkle.js';

// --- strings (en + ko) ----------------------------------------------------------

const STRINGS = {
  en: {
    page_title: 'ticketledger — check the draw',
    title: 'Check the draw',
    lead: "This page re-derives the campaign's queue and draw in your browser from its public ledger, with the published rule (HMAC-SHA256 of the revealed seed). It trusts nothing the server says about outcomes.",
    source: 'Ledger',
    download: 'Download from this server',
    open_file: 'Or check a saved file',
    save: 'Save this export',
    checks: 'Checks',
    totals: 'Totals',
    rate: 'Win rate',
    mismatches: 'Mismatches',
    col_position: 'Position',
    col_check: 'Check',
    col_published: 'Published',
    col_expected: 'By the rule',
    col_line: 'Line',
    search: 'Find a user',
    search_label: 'User id',
    search_go: 'Find',
    seed_details: 'Seed and commitment',
    lang_other: '한국어',
    no_campaign: 'No campaign in the address: open a saved export file to check it.',
    loading_campaign: 'Looking up campaign {id}…',
    unknown_campaign: 'There is no campaign {id} on this server.',
    not_revealed: 'Campaign {id} has not revealed its seed yet. Its ledger is published after the reveal; until then nothing can be checked.',
    downloading: 'Downloading the ledger: {n} events…',
    reading_file: 'Reading {name}: {n} events…',
    deriving: 'Re-deriving the draws: {done} of {total}…',
    download_failed: 'Could not download the ledger: {error}. Nothing was checked.',
    file_failed: 'Could not read the file: {error}. Nothing was checked.',
    checked_from_server: 'Checked {n} events downloaded from this server.',
    checked_from_file: 'Checked {n} events from the file {name}.',
    file_other_campaign: 'The file is the ledger of campaign {file}, not {page}.',
    empty_file: 'The file holds no events. Nothing was checked.',
    verdict_ok: 'Every draw checks out',
    verdict_ok_detail: '{n} draws re-derived from the revealed seed, with the stock, in ledger order: each published value and outcome is the one the rule gives. No mismatch.',
    verdict_bad: '{n} mismatches found',
    verdict_bad_1: '1 mismatch found',
    verdict_bad_detail: 'The published ledger does not follow the rule at the places listed below.',
    verdict_partial: 'Could not check the draws',
    verdict_partial_detail: 'Some checks could not be made (see below); what was checked shows no mismatch.',
    still_not_checked: 'Could not check from the ledger alone: {what}.',
    st_ok: 'checks out',
    st_mismatch: '{n} mismatches',
    st_mismatch_1: '1 mismatch',
    st_not_checked: 'could not check',
    st_na: 'nothing to check',
    st_outside: 'outside the interval',
    check_format: 'Every line is one event of this campaign, in order',
    check_seed: 'The revealed seed matches the commitment published at creation',
    check_positions: 'Queue positions are 1, 2, 3, … with no gap',
    check_one_entry: 'One entry per user',
    check_prequeue: 'The pre-queue is ordered by the seed (random queue)',
    check_admissions: 'Positions are admitted and drawn in order, each by its holder',
    check_draw_values: 'Every draw value re-derived from the seed',
    check_outcomes: 'Every outcome follows from its draw value and the stock',
    check_stock: 'Stock: draws, restocks and cancellations add up',
    check_close_reveal: 'Closed, every position drawn, then revealed',
    check_rate: 'Observed win rate against the configured rate (99.9% interval)',
    check_timing: 'Admission times against the admission rate',
    check_completeness: 'Every accepted request reached the ledger',
    why_not_revealed: 'the seed is not revealed in this ledger',
    why_no_campaign_created: 'the ledger has no campaign_created event',
    why_seed_mismatch: 'the seed does not match its commitment',
    why_fifo: 'a first-come queue has no pre-queue',
    why_unknown_event: 'the ledger has events this page does not know',
    why_not_closed: 'the campaign is not closed in this ledger',
    why_no_draws: 'no draws',
    why_needs_commands: 'needs the commands log (ticketctl audit)',
    t_positions: 'Positions',
    t_prequeued: 'Pre-queued',
    t_drawn: 'Drawn',
    t_won: 'Won',
    t_lost: 'Lost',
    t_sold_out: 'Sold out',
    t_cancelled: 'Cancelled',
    t_rejected: 'Rejected requests',
    t_stock: 'Stock (start + restocked → left)',
    t_events: 'Events',
    t_config: 'Configured',
    rate_text: 'Observed {obs} ({k} of {n} draws under the threshold). 99.9% interval: {lo} – {hi}. Configured: {cfg} — {inside}.',
    rate_inside: 'inside the interval',
    rate_outside: 'outside the interval (a statistical warning, not a proof)',
    rate_none: 'No draws to measure.',
    more_mismatches: '{shown} of {n} mismatches are listed.',
    search_none: 'No entry for “{user}” in this ledger.',
    search_prequeued: '“{user}” is in the pre-queue (no position yet).',
    search_position: '“{user}” holds position {position}.',
    search_draw: 'Draw value {value} ({under}); published outcome {published}, by the rule {rule}.',
    search_cancelled: 'The win was later cancelled.',
    search_lines: 'Ledger lines of this user',
    under: 'under the threshold',
    over: 'at or over the threshold',
    seed: 'Seed (revealed)',
    commitment: 'Commitment (SHA-256 of the seed)',
    threshold: 'Threshold',
    no_seed: '— (not revealed)',
    queueing_fifo: 'first come, first served',
    queueing_random: 'random queue',
    config_text: 'stock {stock}, win rate {bps} bps, {queueing}',
    outcome_WON: 'WON',
    outcome_LOST: 'LOST',
    outcome_SOLD_OUT: 'SOLD OUT',
    receipt_title: 'Check a receipt',
    receipt_lead: 'A receipt proves that one entry (position, entry time, user) is in the Merkle root the campaign published when it closed. Your browser recomputes the path with SHA-256 (RFC 9162); it trusts nothing else the server says.',
    receipt_fetch: 'Get my receipt (signed in)',
    receipt_paste: 'Receipt (the JSON of GET …/entries/me/proof)',
    receipt_root: "The campaign's published Merkle root (hex)",
    receipt_check: 'Check the receipt',
    receipt_root_campaign: 'From the campaign as this server publishes it (merkle_root).',
    receipt_root_ledger: "From the ledger export's campaign_closed event, checked above.",
    receipt_root_none: 'The campaign has no Merkle root yet: it is published when the campaign closes. Paste one to check against it.',
    receipt_root_differs: 'The campaign says {campaign}, but its ledger export says {ledger}: the export is used.',
    receipt_fetching: 'Asking this server for your receipt…',
    receipt_fetch_failed: 'Could not get your receipt: {error}',
    receipt_sign_in: 'Sign in on the waiting room page of this campaign first, or paste a receipt.',
    receipt_not_json: 'The receipt is not JSON: {error}',
    receipt_bad: 'Could not check the receipt: {error}',
    receipt_valid: 'Valid: entry {position} of {user} is in the published root.',
    receipt_invalid: 'NOT valid: this receipt does not lead to the published root.',
    rc_leaf_text: 'The leaf text is “ticketledger/entry/v1|position|entry time|user”',
    rc_leaf_hash: 'The leaf hash is SHA-256(0x00 ‖ leaf)',
    rc_index: 'The leaf index is position − 1',
    rc_root_published: "The receipt's root is the published root",
    rc_path: 'The audit path leads from the leaf to the published root (RFC 9162 2.1.3.2)',
    rc_got: 'got {got}',
    check_merkle: 'The Merkle root of the entries, re-derived from every position (receipts)',
    check_holds: 'Holds: confirmed before their deadline, expired only after it, each promotion the head of the waitlist',
    why_no_merkle: 'the ledger has no Merkle root (closed before receipts existed)',
    why_at_close_entropy: 'the entropy value is missing from the close',
    check_items: 'Items: each item\'s units add up (stock + restocks = left + taken − returned), no item oversold, choices only by the admitted before their deadline, one per admission',
    why_no_items: 'the campaign has no items',
    t_item: 'Item {id}',
    t_item_v: '{stock} + {restocked} restocked → {left} left ({taken} taken, {returned} returned)',
    t_choices: 'Admitted to choose',
    t_choices_v: '{a} admitted: {c} chose, {x} let the time pass',
    t_confirmed: 'Confirmed',
    t_expired: 'Holds expired',
    t_waitlisted: 'Waitlisted',
    t_promoted: 'Promoted from the waitlist',
    outcome_WAITLISTED: 'WAITLISTED',
    config_at_close: 'drawn at close',
    config_entropy: 'entropy “{v}” from {source}',
    config_hold: 'hold {s} s',
  },
  ko: {
    page_title: 'ticketledger — 추첨 검증',
    title: '추첨 검증',
    lead: '이 페이지는 캠페인의 공개 원장으로부터 대기열과 추첨을 공개된 규칙(공개된 시드의 HMAC-SHA256)으로 브라우저에서 직접 다시 계산합니다. 서버가 말하는 결과는 믿지 않습니다.',
    source: '원장',
    download: '이 서버에서 내려받기',
    open_file: '또는 저장한 파일 검사',
    save: '이 원장 저장',
    checks: '검사 항목',
    totals: '합계',
    rate: '당첨률',
    mismatches: '불일치',
    col_position: '순번',
    col_check: '검사',
    col_published: '공개된 값',
    col_expected: '규칙에 따른 값',
    col_line: '줄',
    search: '사용자 찾기',
    search_label: '사용자 ID',
    search_go: '찾기',
    seed_details: '시드와 커밋',
    lang_other: 'English',
    no_campaign: '주소에 캠페인이 없습니다. 저장한 원장 파일을 열어 검사하세요.',
    loading_campaign: '캠페인 {id} 확인 중…',
    unknown_campaign: '이 서버에 캠페인 {id}이(가) 없습니다.',
    not_revealed: '캠페인 {id}의 시드가 아직 공개되지 않았습니다. 원장은 공개 후에 게시되며, 그 전에는 아무것도 검사할 수 없습니다.',
    downloading: '원장 내려받는 중: 이벤트 {n}개…',
    reading_file: '{name} 읽는 중: 이벤트 {n}개…',
    deriving: '추첨 다시 계산 중: {total}개 중 {done}개…',
    download_failed: '원장을 내려받지 못했습니다: {error}. 아무것도 검사하지 않았습니다.',
    file_failed: '파일을 읽지 못했습니다: {error}. 아무것도 검사하지 않았습니다.',
    checked_from_server: '이 서버에서 내려받은 이벤트 {n}개를 검사했습니다.',
    checked_from_file: '파일 {name}의 이벤트 {n}개를 검사했습니다.',
    file_other_campaign: '이 파일은 캠페인 {page}이(가) 아니라 {file}의 원장입니다.',
    empty_file: '파일에 이벤트가 없습니다. 아무것도 검사하지 않았습니다.',
    verdict_ok: '모든 추첨이 규칙과 일치합니다',
    verdict_ok_detail: '공개된 시드로 추첨 {n}건을 원장 순서대로 재고와 함께 다시 계산했습니다. 공개된 값과 결과가 모두 규칙의 결과와 같습니다. 불일치 없음.',
    verdict_bad: '불일치 {n}건 발견',
    verdict_bad_1: '불일치 1건 발견',
    verdict_bad_detail: '공개된 원장이 아래에 표시된 위치에서 규칙을 따르지 않습니다.',
    verdict_partial: '추첨을 검사할 수 없었습니다',
    verdict_partial_detail: '일부 항목은 검사할 수 없었습니다(아래 참조). 검사한 부분에는 불일치가 없습니다.',
    still_not_checked: '원장만으로는 검사할 수 없음: {what}.',
    st_ok: '일치',
    st_mismatch: '불일치 {n}건',
    st_mismatch_1: '불일치 1건',
    st_not_checked: '검사할 수 없음',
    st_na: '검사할 것 없음',
    st_outside: '구간 밖',
    check_format: '모든 줄이 이 캠페인의 이벤트이며 순서대로임',
    check_seed: '공개된 시드가 생성 때 게시한 커밋과 일치',
    check_positions: '대기 순번이 1, 2, 3, … 빠짐없이 이어짐',
    check_one_entry: '사용자당 응모 1건',
    check_prequeue: '사전 대기열이 시드로 정렬됨(랜덤 대기열)',
    check_admissions: '순번이 차례대로 입장·추첨되고 각각 그 순번의 주인임',
    check_draw_values: '모든 추첨값을 시드로 다시 계산',
    check_outcomes: '모든 결과가 추첨값과 재고에서 나옴',
    check_stock: '재고: 추첨, 재입고, 취소가 맞아떨어짐',
    check_close_reveal: '마감 후 모든 순번 추첨, 그다음 공개',
    check_rate: '관측 당첨률과 설정 당첨률 비교(99.9% 구간)',
    check_timing: '입장 시각과 입장 속도',
    check_completeness: '접수된 모든 요청이 원장에 있음',
    why_not_revealed: '이 원장에서 시드가 공개되지 않음',
    why_no_campaign_created: '원장에 campaign_created 이벤트가 없음',
    why_seed_mismatch: '시드가 커밋과 일치하지 않음',
    why_fifo: '선착순 대기열에는 사전 대기열이 없음',
    why_unknown_event: '이 페이지가 모르는 이벤트가 원장에 있음',
    why_not_closed: '이 원장에서 캠페인이 마감되지 않음',
    why_no_draws: '추첨 없음',
    why_needs_commands: '명령 로그가 필요함(ticketctl audit)',
    t_positions: '순번',
    t_prequeued: '사전 대기',
    t_drawn: '추첨',
    t_won: '당첨',
    t_lost: '낙첨',
    t_sold_out: '매진',
    t_cancelled: '취소',
    t_rejected: '거절된 요청',
    t_stock: '재고(시작 + 재입고 → 남음)',
    t_events: '이벤트',
    t_config: '설정',
    rate_text: '관측 {obs} (추첨 {n}건 중 {k}건이 기준값 미만). 99.9% 구간: {lo} – {hi}. 설정: {cfg} — {inside}.',
    rate_inside: '구간 안',
    rate_outside: '구간 밖(통계적 경고이며 증명은 아님)',
    rate_none: '측정할 추첨이 없습니다.',
    more_mismatches: '불일치 {n}건 중 {shown}건을 표시합니다.',
    search_none: '이 원장에 “{user}”의 응모가 없습니다.',
    search_prequeued: '“{user}”은(는) 사전 대기열에 있습니다(아직 순번 없음).',
    search_position: '“{user}”의 순번은 {position}입니다.',
    search_draw: '추첨값 {value} ({under}); 공개된 결과 {published}, 규칙에 따른 결과 {rule}.',
    search_cancelled: '당첨은 이후 취소되었습니다.',
    search_lines: '이 사용자의 원장 줄',
    under: '기준값 미만',
    over: '기준값 이상',
    seed: '시드(공개됨)',
    commitment: '커밋(시드의 SHA-256)',
    threshold: '기준값',
    no_seed: '— (공개 안 됨)',
    queueing_fifo: '선착순',
    queueing_random: '랜덤 대기열',
    config_text: '재고 {stock}, 당첨률 {bps} bps, {queueing}',
    outcome_WON: '당첨',
    outcome_LOST: '낙첨',
    outcome_SOLD_OUT: '매진',
    receipt_title: '영수증 확인',
    receipt_lead: '영수증은 한 응모(순번, 응모 시각, 사용자)가 캠페인이 마감 때 공개한 머클 루트에 들어 있음을 증명합니다. 브라우저가 SHA-256(RFC 9162)으로 경로를 다시 계산하며, 서버가 말하는 다른 것은 믿지 않습니다.',
    receipt_fetch: '내 영수증 받기(로그인 필요)',
    receipt_paste: '영수증 (GET …/entries/me/proof 의 JSON)',
    receipt_root: '캠페인이 공개한 머클 루트 (16진수)',
    receipt_check: '영수증 확인',
    receipt_root_campaign: '이 서버가 공개한 캠페인 정보(merkle_root)에서 가져왔습니다.',
    receipt_root_ledger: '위에서 검사한 원장의 campaign_closed 이벤트에서 가져왔습니다.',
    receipt_root_none: '아직 머클 루트가 없습니다. 캠페인이 마감될 때 공개됩니다. 비교할 루트를 붙여 넣을 수 있습니다.',
    receipt_root_differs: '캠페인 정보는 {campaign}, 원장은 {ledger}입니다. 원장의 값을 사용합니다.',
    receipt_fetching: '이 서버에 내 영수증을 요청하는 중…',
    receipt_fetch_failed: '영수증을 받지 못했습니다: {error}',
    receipt_sign_in: '먼저 이 캠페인의 대기실 페이지에서 로그인하거나 영수증을 붙여 넣으세요.',
    receipt_not_json: '영수증이 JSON이 아닙니다: {error}',
    receipt_bad: '영수증을 확인할 수 없습니다: {error}',
    receipt_valid: '유효함: {user}의 응모 {position}번이 공개된 루트에 들어 있습니다.',
    receipt_invalid: '유효하지 않음: 이 영수증은 공개된 루트로 이어지지 않습니다.',
    rc_leaf_text: '리프 텍스트가 “ticketledger/entry/v1|순번|응모 시각|사용자”임',
    rc_leaf_hash: '리프 해시가 SHA-256(0x00 ‖ 리프)임',
    rc_index: '리프 인덱스가 순번 − 1임',
    rc_root_published: '영수증의 루트가 공개된 루트임',
    rc_path: '감사 경로가 리프에서 공개된 루트로 이어짐 (RFC 9162 2.1.3.2)',
    rc_got: '실제 값 {got}',
    check_merkle: '모든 순번으로 다시 계산한 응모 머클 루트(영수증)',
    check_holds: '보류: 기한 전에 확정, 기한 후에만 만료, 승격은 항상 대기자 명단의 첫 번째',
    why_no_merkle: '원장에 머클 루트가 없음(영수증 도입 전에 마감됨)',
    why_at_close_entropy: '마감에 엔트로피 값이 없음',
    check_items: '품목: 품목별 수량이 맞아떨어짐 (재고 + 재입고 = 남음 + 판매 − 반환), 초과 판매 없음, 입장한 사람만 기한 전에 한 번 선택',
    why_no_items: '품목이 없는 캠페인',
    t_item: '품목 {id}',
    t_item_v: '{stock} + 재입고 {restocked} → 남음 {left} (판매 {taken}, 반환 {returned})',
    t_choices: '입장 후 선택',
    t_choices_v: '{a}명 입장: {c}명 선택, {x}명 시간 초과',
    t_confirmed: '확정',
    t_expired: '보류 만료',
    t_waitlisted: '대기자',
    t_promoted: '대기자에서 승격',
    outcome_WAITLISTED: '대기자',
    config_at_close: '마감 때 추첨',
    config_entropy: '{source}의 엔트로피 “{v}”',
    config_hold: '보류 {s}초',
  },
};

function lang() {
  let l = null;
  try {
    l = localStorage.getItem('tl_lang');
  } catch (e) {
    l = null;
  }
  if (!l) l = document.documentElement.lang || 'en';
  return l.toLowerCase().startsWith('ko') ? 'ko' : 'en';
}

function t(key, vars = {}) {
  const table = STRINGS[lang()];
  const text = table[key] !== undefined ? table[key] : STRINGS.en[key] !== undefined ? STRINGS.en[key] : key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (vars[name] !== undefined ? String(vars[name]) : m));
}

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function num(n) {
  return typeof n === 'bigint' || typeof n === 'number' ? n.toLocaleString(lang()) : String(n);
}

function pct(x) {
  return (x * 100).toFixed(2) + '%';
}

// --- state ------------------------------------------------------------------------

const state = {
  pageCampaign: null,
  report: null,
  lines: [], // the raw export lines (for the search and for saving)
  source: null, // { kind: 'server' } or { kind: 'file', name }
  statusKey: null,
  statusVars: {},
  busy: false,
  saveUrl: null,
};

function setStatus(key, vars = {}, bad = false) {
  state.statusKey = key;
  state.statusVars = vars;
  const s = $('status');
  s.textContent = key ? t(key, vars) : '';
  s.classList.toggle('bad', bad);
}

function setProgress(done, total) {
  const box = $('progress-box');
  if (done === null) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const fill = $('progress-fill');
  fill.style.width = total > 0 ? Math.min(100, (100 * done) / total).toFixed(1) + '%' : '0%';
  $('progress-text').textContent = total > 0 ? `${num(done)} / ${num(total)}` : num(done);
}

function applyStrings() {
  document.documentElement.lang = lang();
  document.title = t('page_title');
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  $('lang').textContent = t('lang_other');
  if (state.statusKey) setStatus(state.statusKey, state.statusVars, $('status').classList.contains('bad'));
  if (state.report) render(state.report);
  if (state.receiptVerdict) receiptVerdict(state.receiptVerdict.key, state.receiptVerdict.vars, state.receiptVerdict.good);
  setReceiptRoot();
}

// --- reading the export -------------------------------------------------------------

const api = (path) =>
  fetch(path, { credentials: 'same-origin', headers: { 'X-Requested-With': 'ticketledger' } });

// Feeds complete lines of `text` (a chunk) to the checker; returns the rest.
function feed(check, carry, text) {
  const all = carry + text;
  const parts = all.split('\n');
  const rest = parts.pop();
  for (const line of parts) {
    state.lines.push(line);
    check.addLine(line);
  }
  return rest;
}

async function downloadAll(id) {
  const check = new LedgerCheck();
  let offset = 0;
  for (;;) {
    const r = await api(`/v1/campaigns/${encodeURIComponent(id)}/ledger?offset=${offset}&limit=10000`);
    if (r.status === 503 && r.headers.get('Retry-After')) {
      await new Promise((ok) => setTimeout(ok, 1000 * Number(r.headers.get('Retry-After') || 1)));
      continue;
    }
    if (!r.ok) {
      let message = `HTTP ${r.status}`;
      try {
        const body = await r.json();
        if (body && body.error) message += ` ${body.error.code}: ${body.error.message}`;
      } catch (e) {
        // not JSON: the status says enough
      }
      throw new Error(message);
    }
    const text = await r.text();
    if (text.length > 0 && !text.endsWith('\n')) throw new Error('a page ended inside a line');
    feed(check, '', text);
    const next = Number(r.headers.get('Ledger-Next-Offset'));
    if (!Number.isSafeInteger(next) || next < offset) throw new Error('no Ledger-Next-Offset header');
    offset = next;
    setStatus('downloading', { n: num(state.lines.length) });
    setProgress(state.lines.length, 0);
    if (r.headers.get('Ledger-Complete') === 'true') break;
  }
  return check;
}

async function readFile(file) {
  const check = new LedgerCheck();
  const reader = file.stream().pipeThrough(new TextDecoderStream()).getReader();
  let carry = '';
  let read = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    read += value.length;
    carry = feed(check, carry, value);
    setStatus('reading_file', { name: file.name, n: num(state.lines.length) });
    setProgress(read, file.size);
  }
  if (carry.length > 0) {
    state.lines.push(carry);
    check.addLine(carry);
  }
  return check;
}

async function run(source, load) {
  if (state.busy) return;
  state.busy = true;
  $('download').disabled = true;
  $('file').disabled = true;
  $('result').hidden = true;
  $('save').hidden = true;
  state.report = null;
  state.lines = [];
  state.source = source;
  try {
    let check;
    try {
      check = await load();
    } catch (err) {
      setProgress(null);
      setStatus(source.kind === 'server' ? 'download_failed' : 'file_failed', { error: err.message }, true);
      return;
    }
    if (state.lines.length === 0) {
      setProgress(null);
      setStatus('empty_file', {}, true);
      return;
    }
    const report = await check.finish((done, total) => {
      setStatus('deriving', { done: num(done), total: num(total) });
      setProgress(done, total);
    });
    setProgress(null);
    state.report = report;
    if (source.kind === 'server') setStatus('checked_from_server', { n: num(report.lines) });
    else setStatus('checked_from_file', { n: num(report.lines), name: source.name });
    if (source.kind === 'server') offerSave(report.campaign);
    render(report);
  } finally {
    state.busy = false;
    $('download').disabled = false;
    $('file').disabled = false;
  }
}

function offerSave(campaign) {
  if (state.saveUrl) URL.revokeObjectURL(state.saveUrl);
  const blob = new Blob([state.lines.join('\n') + '\n'], { type: 'application/x-ndjson' });
  state.saveUrl = URL.createObjectURL(blob);
  const a = $('save');
  a.href = state.saveUrl;
  a.download = `${campaign}.ledger.ndjson`;
  a.hidden = false;
}

// --- rendering ------------------------------------------------------------------------

function statusText(c) {
  if (c.status === 'ok') return t('st_ok');
  if (c.status === 'mismatch') return t(c.mismatches === 1 ? 'st_mismatch_1' : 'st_mismatch', { n: num(c.mismatches) });
  if (c.status === 'outside') return t('st_outside');
  const what = c.status === 'na' ? t('st_na') : t('st_not_checked');
  return c.reason ? `${what}: ${t('why_' + c.reason)}` : what;
}

function render(report) {
  $('result').hidden = false;
  const verdict = $('verdict');
  const detail = $('verdict-detail');
  verdict.classList.remove('good', 'bad', 'partial');
  if (report.mismatchCount > 0) {
    verdict.textContent = t(report.mismatchCount === 1 ? 'verdict_bad_1' : 'verdict_bad', { n: num(report.mismatchCount) });
    verdict.classList.add('bad');
    detail.textContent = t('verdict_bad_detail');
  } else if (report.everyDrawChecks) {
    verdict.textContent = t('verdict_ok');
    verdict.classList.add('good');
    detail.textContent = t('verdict_ok_detail', { n: num(report.totals.drawn) });
  } else {
    verdict.textContent = t('verdict_partial');
    verdict.classList.add('partial');
    detail.textContent = t('verdict_partial_detail');
  }
  const notChecked = report.checks.filter((c) => c.status === 'not_checked').map((c) => t('check_' + c.id));
  if (notChecked.length > 0) {
    detail.append(' ', t('still_not_checked', { what: notChecked.join('; ') }));
  }
  if (state.pageCampaign && report.campaign && report.campaign !== state.pageCampaign) {
    detail.append(' ', t('file_other_campaign', { file: report.campaign, page: state.pageCampaign }));
  }
  $('campaign-id').textContent = report.campaign || state.pageCampaign || '';

  const list = $('checks');
  list.replaceChildren();
  for (const c of report.checks) {
    const li = el('li', 'check ' + c.status);
    li.dataset.check = c.id;
    li.dataset.status = c.status;
    li.append(el('span', 'badge', statusText(c)), el('span', 'what', t('check_' + c.id)));
    list.append(li);
  }

  const totals = $('totals');
  totals.replaceChildren();
  const tt = report.totals;
  const cfg = report.config;
  const add = (key, value) => {
    const div = el('div');
    div.append(el('dt', '', t(key)), el('dd', '', value));
    totals.append(div);
  };
  if (cfg) {
    let queueing = cfg.queueing === 'QUEUEING_RANDOM' ? t('queueing_random') : t('queueing_fifo');
    if (cfg.atClose) queueing = t('config_at_close');
    if (cfg.entropySource) queueing += ', ' + t('config_entropy', { v: report.entropyValue, source: cfg.entropySource });
    if (cfg.holdS > 0n) queueing += ', ' + t('config_hold', { s: num(cfg.holdS) });
    add('t_config', t('config_text', { stock: num(cfg.stock), bps: num(cfg.winBps), queueing }));
  }
  add('t_events', num(report.lines));
  add('t_positions', num(tt.positions));
  if (tt.prequeued > 0) add('t_prequeued', num(tt.prequeued));
  add('t_drawn', num(tt.drawn));
  add('t_won', num(tt.won));
  add('t_lost', num(tt.lost));
  add('t_sold_out', num(tt.sold_out));
  add('t_cancelled', num(tt.cancelled));
  if (tt.waitlisted > 0) add('t_waitlisted', num(tt.waitlisted));
  if (tt.promoted > 0) add('t_promoted', num(tt.promoted));
  if (tt.confirmed > 0) add('t_confirmed', num(tt.confirmed));
  if (tt.expired > 0) add('t_expired', num(tt.expired));
  add('t_rejected', num(tt.rejected));
  if (cfg && tt.stockLeft !== null) {
    add('t_stock', `${num(cfg.stock)} + ${num(BigInt(tt.restocked))} → ${num(BigInt(tt.stockLeft))}`);
  }
  // Per item (issue 15): stock + restocked → left, units taken and returned.
  if (tt.admitted_to_choose > 0) add('t_choices', t('t_choices_v', { a: num(tt.admitted_to_choose), c: num(tt.chosen), x: num(tt.choices_expired) }));
  for (const it of tt.items || []) {
    const div = el('div');
    div.dataset.item = it.id;
    div.append(
      el('dt', '', t('t_item', { id: it.label ? `${it.label} (${it.id})` : it.id })),
      el('dd', '', t('t_item_v', { stock: num(BigInt(it.stock)), restocked: num(BigInt(it.restocked)), left: num(BigInt(it.left)), taken: num(BigInt(it.taken)), returned: num(BigInt(it.returned)) })),
    );
    totals.append(div);
  }

  const r = report.rate;
  $('rate').textContent =
    r.n === 0 || !cfg
      ? t('rate_none')
      : t('rate_text', {
          obs: pct(r.observed),
          k: num(r.k),
          n: num(r.n),
          lo: pct(r.lo),
          hi: pct(r.hi),
          cfg: pct(r.configured),
          inside: r.inside ? t('rate_inside') : t('rate_outside'),
        });

  const box = $('mismatch-box');
  box.hidden = report.mismatchCount === 0;
  const body = $('mismatches').tBodies[0];
  body.replaceChildren();
  for (const m of report.mismatches) {
    const tr = el('tr');
    tr.dataset.position = m.position || '';
    tr.append(
      el('td', 'pos', m.position || (m.user ? m.user : '—')),
      el('td', '', t('check_' + m.check)),
      el('td', 'mono', String(m.published)),
      el('td', 'mono', String(m.expected)),
      el('td', 'mono', m.line ? String(m.line) : '—'),
    );
    body.append(tr);
  }
  $('mismatch-more').textContent =
    report.mismatches.length < report.mismatchCount
      ? t('more_mismatches', { shown: num(report.mismatches.length), n: num(report.mismatchCount) })
      : '';

  const seed = $('seed');
  seed.replaceChildren();
  const addSeed = (key, value) => {
    const div = el('div');
    div.append(el('dt', '', t(key)), el('dd', 'mono', value));
    seed.append(div);
  };
  addSeed('seed', report.seedHex || t('no_seed'));
  addSeed('commitment', report.commitmentHex || '—');
  if (cfg) {
    const threshold = (BigInt(cfg.winBps) * (1n << 64n)) / 10000n;
    addSeed('threshold', threshold.toString());
  }
  const q = $('search-user').value;
  if (q) search(q);
  setReceiptRoot();
}

function search(user) {
  const out = $('search-result');
  out.replaceChildren();
  const report = state.report;
  if (!report || !user) return;
  const draw = report.users.get(user);
  const position = report.positions.findIndex((p) => p.user === user) + 1;
  const needle = '"user_id":' + JSON.stringify(user);
  const lines = [];
  state.lines.forEach((line, i) => {
    if (line.includes(needle)) lines.push({ n: i + 1, line });
  });
  if (position === 0) {
    out.append(el('p', '', lines.length > 0 ? t('search_prequeued', { user }) : t('search_none', { user })));
  } else {
    out.append(el('p', '', t('search_position', { user, position: num(position) })));
  }
  if (draw) {
    const p = el(
      'p',
      draw.published === draw.outcome ? 'good' : 'bad',
      t('search_draw', {
        value: draw.value.toString(),
        under: draw.outcome === 'LOST' ? t('over') : t('under'),
        published: t('outcome_' + draw.published),
        rule: t('outcome_' + draw.outcome),
      }),
    );
    out.append(p);
    if (draw.cancelled) out.append(el('p', '', t('search_cancelled')));
  }
  if (lines.length > 0) {
    out.append(el('h4', '', t('search_lines')));
    const pre = el('pre', 'lines');
    pre.textContent = lines
      .slice(0, 50)
      .map((l) => `${l.n}: ${l.line}`)
      .join('\n');
    out.append(pre);
  }
}

// --- receipts ------------------------------------------------------------------------

// The root a receipt is checked against: the export's campaign_closed once
// the export was checked (what the ledger itself says), else the campaign
// JSON's merkle_root; the user may paste another.
function setReceiptRoot() {
  const input = $('receipt-root');
  const fromCampaign = state.campaign && state.campaign.merkle_root ? String(state.campaign.merkle_root).toLowerCase() : '';
  const fromLedger = state.report && state.report.merkleRootHex ? state.report.merkleRootHex : '';
  const root = fromLedger || fromCampaign;
  const src = $('receipt-root-source');
  if (!state.rootEdited && root) input.value = root;
  if (fromLedger && fromCampaign && fromLedger !== fromCampaign) {
    src.textContent = t('receipt_root_differs', { campaign: fromCampaign, ledger: fromLedger });
  } else if (fromLedger) src.textContent = t('receipt_root_ledger');
  else if (fromCampaign) src.textContent = t('receipt_root_campaign');
  else src.textContent = t('receipt_root_none');
}

function receiptVerdict(key, vars, good) {
  const v = $('receipt-verdict');
  v.hidden = false;
  v.textContent = t(key, vars);
  v.classList.remove('good', 'bad', 'partial');
  v.classList.add(good === true ? 'good' : good === false ? 'bad' : 'partial');
  v.dataset.verdict = good === true ? 'valid' : good === false ? 'invalid' : 'unknown';
  state.receiptVerdict = { key, vars, good };
}

async function fetchReceipt() {
  const id = state.pageCampaign;
  if (!id) return;
  $('receipt-checks').replaceChildren();
  receiptVerdict('receipt_fetching', {}, null);
  let r;
  try {
    r = await api(`/v1/campaigns/${encodeURIComponent(id)}/entries/me/proof`);
  } catch (err) {
    receiptVerdict('receipt_fetch_failed', { error: err.message }, null);
    return;
  }
  if (r.status === 401 || r.status === 403) {
    receiptVerdict('receipt_sign_in', {}, null);
    return;
  }
  let body = null;
  try {
    body = await r.json();
  } catch (e) {
    body = null;
  }
  if (!r.ok) {
    const e = body && body.error;
    receiptVerdict('receipt_fetch_failed', { error: `HTTP ${r.status}${e ? ` ${e.code}: ${e.message}` : ''}` }, null);
    return;
  }
  $('receipt-text').value = JSON.stringify(body, null, 2);
  await runReceipt();
}

async function runReceipt() {
  const list = $('receipt-checks');
  list.replaceChildren();
  let receipt;
  try {
    receipt = JSON.parse($('receipt-text').value);
  } catch (err) {
    receiptVerdict('receipt_not_json', { error: err.message }, null);
    return;
  }
  const root = $('receipt-root').value.trim().toLowerCase();
  let result;
  try {
    if (!/^[0-9a-f]{64}$/.test(root)) throw new Error(t('receipt_root_none'));
    result = await checkReceipt(receipt, root);
  } catch (err) {
    receiptVerdict('receipt_bad', { error: err.message }, false);
    return;
  }
  for (const c of result.checks) {
    const li = el('li', 'check ' + (c.ok ? 'ok' : 'mismatch'));
    li.dataset.check = c.id;
    li.dataset.status = c.ok ? 'ok' : 'mismatch';
    li.append(el('span', 'badge', c.ok ? t('st_ok') : t('st_mismatch_1')), el('span', 'what', t('rc_' + c.id)));
    if (!c.ok) li.append(el('span', 'mono', ' — ' + t('rc_got', { got: c.got })));
    list.append(li);
  }
  if (result.ok) receiptVerdict('receipt_valid', { position: num(Number(receipt.position)), user: receipt.user }, true);
  else receiptVerdict('receipt_invalid', {}, false);
}

function setupReceipt() {
  $('receipt-fetch').addEventListener('click', fetchReceipt);
  $('receipt-check').addEventListener('click', runReceipt);
  $('receipt-root').addEventListener('input', () => {
    state.rootEdited = true;
  });
  $('receipt-fetch').hidden = !state.pageCampaign;
  setReceiptRoot();
}

// --- start --------------------------------------------------------------------------

function campaignFromPath() {
  const m = /^\/verify\/([^/]+)\/?$/.exec(location.pathname);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch (e) {
    return null;
  }
}

async function start() {
  applyStrings();
  $('lang').addEventListener('click', () => {
    const next = lang() === 'ko' ? 'en' : 'ko';
    try {
      localStorage.setItem('tl_lang', next);
    } catch (e) {
      // storage refused: the switch still holds for this page
    }
    document.documentElement.lang = next;
    applyStrings();
  });
  $('file').addEventListener('change', (ev) => {
    const file = ev.target.files && ev.target.files[0];
    if (file) run({ kind: 'file', name: file.name }, () => readFile(file));
    ev.target.value = '';
  });
  $('search').addEventListener('submit', (ev) => {
    ev.preventDefault();
    search($('search-user').value.trim());
  });
  const id = campaignFromPath();
  state.pageCampaign = id;
  setupReceipt();
  $('campaign-id').textContent = id || '';
  const download = $('download');
  download.addEventListener('click', () => {
    if (id) run({ kind: 'server' }, () => downloadAll(id));
  });
  if (!id) {
    download.hidden = true;
    setStatus('no_campaign');
    return;
  }
  download.disabled = true;
  setStatus('loading_campaign', { id });
  let campaign;
  try {
    const r = await api(`/v1/campaigns/${encodeURIComponent(id)}`);
    if (r.status === 404) {
      setStatus('unknown_campaign', { id }, true);
      return;
    }
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    campaign = await r.json();
    state.campaign = campaign;
    setReceiptRoot();
  } catch (err) {
    setStatus('download_failed', { error: err.message }, true);
    download.disabled = false;
    return;
  }
  // The export is published after the reveal: before it, say so instead of
  // asking for it (a 409 the page already knows the answer to).
  if (!campaign.seed) {
    setStatus('not_revealed', { id });
    return;
  }
  download.disabled = false;
  run({ kind: 'server' }, () => downloadAll(id));
}

start();
