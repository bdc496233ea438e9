// The index: every open drop, each linking to its waiting room.
import { api, el, showError, $ } from './common.js';
import { t, applyI18n, mountLangSwitch, fmtInt, fmtPct, fmtTime } from './i18n.js';

let campaigns = null;

function card(c) {
  const title = c.title || c.id;
  const href = `/drops/${encodeURIComponent(c.id)}`;
  const facts = [
    t('index.stock', { n: fmtInt(c.stock_left), total: fmtInt(c.stock + (c.restocked || 0)) }),
    t('index.win', { pct: fmtPct(c.win_bps / 10000, 2) }),
    t('index.entries', { n: fmtInt(c.entries) }),
    t(`queueing.${c.queueing}`),
  ];
  if (c.queueing === 'random' && c.opens_at_ms) facts.push(t('index.opens', { time: fmtTime(c.opens_at_ms) }));
  return el(
    'li',
    { dataset: { campaign: c.id } },
    el(
      'article',
      { class: 'card' },
      el('h2', {}, el('a', { href, text: title })),
      title !== c.id ? el('p', { class: 'meta' }, el('code', { text: c.id })) : null,
      el('p', { class: 'meta', text: facts.join(' · ') }),
      el('div', { class: 'actions' }, el('a', { class: 'button', href, text: t('index.join'), 'aria-label': `${t('index.join')}: ${title}` })),
    ),
  );
}

function render() {
  applyI18n();
  document.title = `${t('index.title')} · ${t('app.name')}`;
  if (!campaigns) return;
  $('#loading').hidden = true;
  $('#none').hidden = campaigns.length > 0;
  $('#drops').replaceChildren(...campaigns.map(card));
}

async function load() {
  // Every open drop, page by page (the list is public).
  const all = [];
  let after = '';
  for (let page = 0; page < 20; ++page) {
    const r = await api(`/v1/campaigns?status=open&limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    if (!r.ok) {
      $('#loading').hidden = true;
      showError($('#error'), r);
      return;
    }
    const list = (r.body && r.body.campaigns) || [];
    all.push(...list);
    after = r.body && r.body.next_after;
    if (!after || !list.length) break;
  }
  campaigns = all;
  render();
}

mountLangSwitch($('#lang'));
window.addEventListener('tl-langchange', render);
render();
load();
