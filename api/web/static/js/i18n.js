// Strings in English and Korean, and the language switch.
//
// The language is localStorage.tl_lang when the user picked one with the
// switch, else <html lang>, which ticketd sets from Accept-Language.
//   t('key', {n: 3})       the string in the current language, {n} filled in
//   lang() / setLang('ko') read / change (saved, <html lang> updated, the page
//                          re-rendered through the 'tl-langchange' event)
//   mountLangSwitch(el)    two buttons, EN / 한국어, with aria-pressed
//   applyI18n(root)        fills [data-i18n], [data-i18n-placeholder],
//                          [data-i18n-aria-label], [data-i18n-title]
//   addStrings({en:{}, ko:{}})  a page's own strings
export const LANGS = ['en', 'ko'];
const STORAGE_KEY = 'tl_lang';

const strings = {
  en: {
    'app.name': 'ticketledger',
    'lang.label': 'Language',
    'lang.en': 'English',
    'lang.ko': '한국어',
    'common.loading': 'Loading…',
    'common.error': 'Error',
    'common.network_error': 'Could not reach the server ({detail}).',
    'common.http_error': '{status} {code}: {message}',
    'common.signed_in_as': 'Signed in as {user}',
    'common.sign_out': 'Sign out',
    'common.sign_in': 'Sign in',
    'common.dev_sign_in': 'Development sign-in',
    'common.dev_hint': 'This server runs with --dev: sign in with any name. In production the ticket seller\'s site signs you in.',
    'common.name': 'Name',
    'common.admin': 'Administrator',
    'common.skip': 'Skip to content',
    'common.cancel': 'Cancel',
    'common.confirm': 'Confirm',
    'common.close': 'Close',
    'common.yes': 'Yes',
    'common.no': 'No',
    'common.none': '—',
    'common.seconds': '{n} s',
    'common.minutes': '{m} min {s} s',
    'common.hours': '{h} h {m} min',
    'common.not_found': 'No campaign “{id}”.',

    'status.open': 'Open',
    'status.closed': 'Closed',
    'queueing.fifo': 'First come, first served',
    'queueing.random': 'Random order at opening',

    'index.title': 'Open drops',
    'index.lead': 'Join a drop: your place in the queue and your draw are recorded in a ledger that anyone can check after the reveal.',
    'index.none': 'No drop is open right now.',
    'index.stock': '{n} left of {total}',
    'index.win': '{pct} chance per entry',
    'index.entries': '{n} entered',
    'index.join': 'Open the waiting room',
    'index.admin': 'Operator dashboard',
    'index.opens': 'Opens {time}',

    'drop.title': 'Waiting room',
    'drop.loading': 'Loading the drop…',
    'drop.sign_in_needed': 'Sign in to enter this drop.',
    'drop.prod_sign_in': 'Open this page from the ticket seller\'s site to sign in.',
    'drop.enter': 'Enter the drop',
    'drop.entering': 'Entering…',
    'drop.closed': 'This drop is closed.',
    'drop.closed_no_entry': 'This drop is closed; you did not enter it.',
    'drop.position': 'Your position',
    'drop.ahead': 'People ahead',
    'drop.wait': 'Estimated wait',
    'drop.serving': 'Now serving',
    'drop.progress': 'Progress to your turn',
    'drop.wait_paused': 'paused',
    'drop.state': 'State',
    'drop.state.queued': 'In the queue',
    'drop.state.prequeued': 'In the pre-queue: the order is drawn at the opening',
    'drop.state.paused': 'Admission is paused by the operator',
    'drop.state.admitted': 'Admitted: your draw is being made',
    'drop.opens_at': 'The queue opens at {time}; everyone who entered before then gets a random place.',
    'drop.outcome.won': 'You won!',
    'drop.outcome.lost': 'Not this time: your draw did not win.',
    'drop.outcome.sold_out': 'Sold out: your draw would have won, but the stock had run out.',
    'drop.outcome.cancelled': 'You gave up your win; the unit went back to the stock.',
    'drop.outcome.rejected': 'Your entry was refused: {reason}.',
    'drop.announce.position': 'Position {pos}, {ahead} people ahead.',
    'drop.announce.admitted': 'Admitted. Your draw is being made.',
    'drop.live': 'Live',
    'drop.announce.down': 'Connection lost. Reconnecting.',
    'drop.announce.up': 'Reconnected.',
    'drop.disconnected': 'Disconnected: reconnecting in {s} s…',
    'drop.reconnecting': 'Reconnecting…',
    'drop.polling': 'Live updates unavailable: checking every {s} s.',
    'drop.leave': 'Give up my win',
    'drop.pass.title': 'Your admission pass',
    'drop.pass.lead': "Show it at checkout: the shop checks its signature against this site's public key (/.well-known/jwks.json) without calling us.",
    'drop.opens_in': '(in {d})',
    'outcome.won': 'won',
    'outcome.lost': 'lost',
    'outcome.sold_out': 'sold out',
    'outcome.cancelled': 'won, then given up',
    'drop.outcome_meta': 'Position {pos} · {user}',
    'drop.leave_confirm': 'Give up your win? The unit goes back to the stock for the people behind you. This cannot be undone.',
    'drop.verify.title': 'Verify my draw',
    'drop.verify.lead': 'The seed is revealed: your browser recomputes your own draw from the published rule.',
    'drop.verify.run': 'Check my draw',
    'drop.verify.seed_ok': 'The revealed seed matches the commitment published when the drop was created.',
    'drop.verify.seed_bad': 'The revealed seed does NOT match the published commitment.',
    'drop.verify.value': 'Your draw value: {v}',
    'drop.verify.threshold': 'Winning threshold (win rate {pct}): values below {t}',
    'drop.verify.under': 'Your value is below the threshold: your draw wins if stock remains.',
    'drop.verify.over': 'Your value is not below the threshold: your draw loses.',
    'drop.verify.follows': 'The published outcome “{outcome}” follows from the rule.',
    'drop.verify.contradicts': 'The published outcome “{outcome}” does NOT follow from the rule.',
    'drop.verify.stock_note': 'What this checks: the seed against its commitment, and your draw value against the win rate. Whether stock remained at your position depends on everyone ahead of you: the full check of every draw in order is on the verifier page.',
    'drop.verify.full': 'Check every draw of this drop',
    'drop.verify.unavailable': 'Could not check: {why}',
    'drop.verify.no_draw': 'You have no draw to check.',
    'drop.verify.not_revealed': 'The seed will be revealed after the drop closes; then you can check your draw here.',
    'drop.stats': '{stock} of {total} left · {entries} entered',
    'reason.campaign_closed': 'the drop is closed',
    'reason.campaign_full': 'the drop is full',
    'reason.not_yet_open': 'the drop is not open yet',
    'reason.duplicate': 'you already entered',
    'admin.title': 'Operator dashboard',
    'admin.sign_in': 'Sign in as an operator',
    'admin.dev_sign_in': 'Development sign-in (admin)',
    'admin.token': 'Admin token (a JWT with role admin)',
    'admin.token_hint': 'Pasted once: it is exchanged for an HttpOnly session cookie; this page does not keep it.',
    'admin.not_admin': '{user} is not an administrator: sign out and sign in with an admin token.',
    'admin.health': 'Engine and stores',
    'admin.ready': 'Engine ready',
    'admin.not_ready': 'Not ready: {reason}',
    'admin.role': 'Role: {role}',
    'admin.ok': 'healthy',
    'admin.failing': 'failing',
    'admin.kafka_lag': 'Kafka consumer lag {n}',
    'admin.kafka_none': 'not used (embedded log)',
    'admin.partitions': 'Partitions',
    'admin.projections': 'Projections and Kafka',
    'admin.poll_live': 'Live · every 1 s',
    'admin.poll_failing': 'No answer ({n} tries): retrying',
    'admin.campaigns': 'Campaigns',
    'admin.no_campaigns': 'No campaign yet: create one below.',
    'admin.paused': 'Paused',
    'admin.revealed': 'Seed revealed',
    'admin.col.partition': 'Partition',
    'admin.col.decided': 'Decided',
    'admin.col.end': 'Log end',
    'admin.col.lag': 'Lag',
    'admin.col.store': 'Store',
    'admin.col.health': 'Health',
    'admin.col.lag_events': 'Lag (events)',
    'admin.col.error': 'Error',
    'admin.col.campaign': 'Campaign',
    'admin.col.status': 'Status',
    'admin.k.entries': 'Entries',
    'admin.k.entries_s': 'Entries/s',
    'admin.k.queue': 'Queue length',
    'admin.k.prequeued': 'Pre-queue',
    'admin.k.serving': 'Serving counter',
    'admin.k.admission': 'Admission /s (set · seen)',
    'admin.k.paused': 'Admission paused',
    'admin.k.stock_left': 'Stock left',
    'admin.k.drawn': 'Drawn',
    'admin.k.won': 'Won',
    'admin.k.lost': 'Lost',
    'admin.k.sold_out': 'Sold out',
    'admin.k.cancelled': 'Cancelled',
    'admin.k.wait': 'Queue drains in',
    'admin.admission_val': '{cfg} · {obs}',
    'admin.s.served': 'Served/s',
    'admin.s.observed': 'Observed %',
    'admin.s.lo': '99.9% low',
    'admin.s.hi': '99.9% high',
    'admin.s.configured': 'Configured %',
    'admin.win_none': 'Observed win rate: no draw yet (configured {cfg}).',
    'admin.win_in': 'Observed win rate {obs} ({k} of {n} draws under the threshold); 99.9% interval {lo} – {hi} contains the configured {cfg}.',
    'admin.win_out': 'Observed win rate {obs} ({k} of {n} draws under the threshold); 99.9% interval {lo} – {hi} does NOT contain the configured {cfg}.',
    'admin.chart.rate': 'Entries per second',
    'admin.chart.queue': 'Queue length and serving counter',
    'admin.chart.win': 'Observed win rate vs configured (%)',
    'admin.controls': 'Controls',
    'admin.pause': 'Pause admission',
    'admin.resume': 'Resume admission',
    'admin.close': 'Close',
    'admin.reveal': 'Reveal the seed',
    'admin.restock': 'Restock',
    'admin.restock_units': 'Units to add',
    'admin.units_invalid': 'Units must be a whole number above 0.',
    'admin.answer': 'The API\'s answer',
    'admin.open_drop': 'Open the waiting room',
    'admin.open_verify': 'Open the verifier',
    'admin.confirm.pause': 'Pause admission of “{id}”? The serving counter stops until you resume.',
    'admin.confirm.resume': 'Resume admission of “{id}”?',
    'admin.confirm.close': 'Close “{id}”? No one can enter afterwards. This cannot be undone.',
    'admin.confirm.reveal': 'Reveal the seed of “{id}”? Everyone can then recompute every draw.',
    'admin.confirm.restock': 'Add {units} units to the stock of “{id}”?',
    'admin.confirm.create': 'Create the campaign “{id}” with these settings?',
    'admin.create': 'Create a campaign',
    'admin.create_btn': 'Create…',
    'admin.f.id': 'Id (letters, digits, . _ -)',
    'admin.f.title': 'Title',
    'admin.f.stock': 'Stock',
    'admin.f.win_bps': 'Win rate (basis points; 10000 = 100%)',
    'admin.f.rate': 'Admission rate (positions per second; 0 = at once)',
    'admin.f.max_entries': 'Max entries (0 = no limit)',
    'admin.f.queueing': 'Queueing',
    'admin.f.opens_at': 'Opens at (random queueing; your local time)',
  },
  ko: {
    'app.name': 'ticketledger',
    'lang.label': '언어',
    'lang.en': 'English',
    'lang.ko': '한국어',
    'common.loading': '불러오는 중…',
    'common.error': '오류',
    'common.network_error': '서버에 연결할 수 없습니다 ({detail}).',
    'common.http_error': '{status} {code}: {message}',
    'common.signed_in_as': '{user} 님으로 로그인됨',
    'common.sign_out': '로그아웃',
    'common.sign_in': '로그인',
    'common.dev_sign_in': '개발용 로그인',
    'common.dev_hint': '이 서버는 --dev 모드입니다. 아무 이름으로나 로그인하세요. 실제 서비스에서는 티켓 판매 사이트가 로그인시켜 줍니다.',
    'common.name': '이름',
    'common.admin': '관리자',
    'common.skip': '본문으로 건너뛰기',
    'common.cancel': '취소',
    'common.confirm': '확인',
    'common.close': '닫기',
    'common.yes': '예',
    'common.no': '아니요',
    'common.none': '—',
    'common.seconds': '{n}초',
    'common.minutes': '{m}분 {s}초',
    'common.hours': '{h}시간 {m}분',
    'common.not_found': '“{id}” 응모가 없습니다.',

    'status.open': '진행 중',
    'status.closed': '마감',
    'queueing.fifo': '선착순',
    'queueing.random': '오픈 시 무작위 순서',

    'index.title': '진행 중인 응모',
    'index.lead': '응모에 참여하세요. 대기 순번과 추첨 결과는 원장에 기록되어, 시드 공개 후 누구나 확인할 수 있습니다.',
    'index.none': '지금 진행 중인 응모가 없습니다.',
    'index.stock': '{total}개 중 {n}개 남음',
    'index.win': '응모당 당첨 확률 {pct}',
    'index.entries': '{n}명 응모',
    'index.join': '대기실 열기',
    'index.admin': '운영자 대시보드',
    'index.opens': '{time} 오픈',

    'drop.title': '대기실',
    'drop.loading': '응모 정보를 불러오는 중…',
    'drop.sign_in_needed': '응모하려면 로그인하세요.',
    'drop.prod_sign_in': '티켓 판매 사이트에서 이 페이지를 열어 로그인하세요.',
    'drop.enter': '응모하기',
    'drop.entering': '응모 중…',
    'drop.closed': '마감된 응모입니다.',
    'drop.closed_no_entry': '마감된 응모입니다. 응모하지 않으셨습니다.',
    'drop.position': '내 순번',
    'drop.ahead': '내 앞 대기 인원',
    'drop.wait': '예상 대기 시간',
    'drop.serving': '현재 입장 순번',
    'drop.progress': '내 차례까지 진행률',
    'drop.wait_paused': '일시 중지',
    'drop.state': '상태',
    'drop.state.queued': '대기 중',
    'drop.state.prequeued': '사전 대기 중: 오픈 시 순서가 추첨됩니다',
    'drop.state.paused': '운영자가 입장을 일시 중지했습니다',
    'drop.state.admitted': '입장: 추첨 중입니다',
    'drop.opens_at': '대기열은 {time}에 열립니다. 그 전에 응모한 모든 분은 무작위 순번을 받습니다.',
    'drop.outcome.won': '당첨되었습니다!',
    'drop.outcome.lost': '아쉽게도 당첨되지 않았습니다.',
    'drop.outcome.sold_out': '품절: 추첨은 당첨이었지만 재고가 소진되었습니다.',
    'drop.outcome.cancelled': '당첨을 포기했습니다. 재고로 돌아갔습니다.',
    'drop.outcome.rejected': '응모가 거절되었습니다: {reason}.',
    'drop.announce.position': '순번 {pos}, 앞에 {ahead}명.',
    'drop.announce.admitted': '입장했습니다. 추첨 중입니다.',
    'drop.live': '실시간',
    'drop.announce.down': '연결이 끊겼습니다. 다시 연결하는 중입니다.',
    'drop.announce.up': '다시 연결되었습니다.',
    'drop.disconnected': '연결 끊김: {s}초 후 다시 연결합니다…',
    'drop.reconnecting': '다시 연결하는 중…',
    'drop.polling': '실시간 업데이트를 사용할 수 없어 {s}초마다 확인합니다.',
    'drop.leave': '당첨 포기하기',
    'drop.pass.title': '입장 패스',
    'drop.pass.lead': '결제할 때 보여 주세요. 판매처는 이 사이트의 공개 키(/.well-known/jwks.json)로 서명을 직접 확인합니다.',
    'drop.opens_in': '({d} 남음)',
    'outcome.won': '당첨',
    'outcome.lost': '낙첨',
    'outcome.sold_out': '품절',
    'outcome.cancelled': '당첨 후 포기',
    'drop.outcome_meta': '순번 {pos} · {user}',
    'drop.leave_confirm': '당첨을 포기하시겠습니까? 재고는 뒤에 있는 분들에게 돌아가며 되돌릴 수 없습니다.',
    'drop.verify.title': '내 추첨 검증',
    'drop.verify.lead': '시드가 공개되었습니다. 브라우저가 공개된 규칙으로 내 추첨을 다시 계산합니다.',
    'drop.verify.run': '내 추첨 확인',
    'drop.verify.seed_ok': '공개된 시드가 응모 생성 때 게시된 커밋과 일치합니다.',
    'drop.verify.seed_bad': '공개된 시드가 게시된 커밋과 일치하지 않습니다.',
    'drop.verify.value': '내 추첨 값: {v}',
    'drop.verify.threshold': '당첨 기준 (당첨률 {pct}): {t} 미만',
    'drop.verify.under': '내 값이 기준보다 작습니다. 재고가 남아 있으면 당첨입니다.',
    'drop.verify.over': '내 값이 기준보다 작지 않습니다. 낙첨입니다.',
    'drop.verify.follows': '게시된 결과 “{outcome}”는 규칙과 일치합니다.',
    'drop.verify.contradicts': '게시된 결과 “{outcome}”는 규칙과 일치하지 않습니다.',
    'drop.verify.stock_note': '확인 범위: 시드와 커밋, 그리고 당첨률에 대한 내 추첨 값. 내 순번에서 재고가 남았는지는 앞선 모든 응모자에 달려 있으므로, 모든 추첨을 순서대로 확인하려면 검증 페이지를 이용하세요.',
    'drop.verify.full': '이 응모의 모든 추첨 확인',
    'drop.verify.unavailable': '확인할 수 없음: {why}',
    'drop.verify.no_draw': '확인할 추첨이 없습니다.',
    'drop.verify.not_revealed': '시드는 응모 마감 후 공개됩니다. 그때 여기서 내 추첨을 확인할 수 있습니다.',
    'drop.stats': '{total}개 중 {stock}개 남음 · {entries}명 응모',
    'reason.campaign_closed': '마감된 응모입니다',
    'reason.campaign_full': '응모 인원이 다 찼습니다',
    'reason.not_yet_open': '아직 오픈 전입니다',
    'reason.duplicate': '이미 응모하셨습니다',
    'admin.title': '운영자 대시보드',
    'admin.sign_in': '운영자로 로그인',
    'admin.dev_sign_in': '개발용 로그인 (관리자)',
    'admin.token': '관리자 토큰 (role admin JWT)',
    'admin.token_hint': '한 번만 붙여 넣으세요. HttpOnly 세션 쿠키로 교환되며 이 페이지는 토큰을 보관하지 않습니다.',
    'admin.not_admin': '{user} 님은 관리자가 아닙니다. 로그아웃 후 관리자 토큰으로 로그인하세요.',
    'admin.health': '엔진과 저장소',
    'admin.ready': '엔진 준비됨',
    'admin.not_ready': '준비 안 됨: {reason}',
    'admin.role': '역할: {role}',
    'admin.ok': '정상',
    'admin.failing': '장애',
    'admin.kafka_lag': 'Kafka 소비 지연 {n}',
    'admin.kafka_none': '사용 안 함 (내장 로그)',
    'admin.partitions': '파티션',
    'admin.projections': '프로젝션과 Kafka',
    'admin.poll_live': '실시간 · 1초마다',
    'admin.poll_failing': '응답 없음 ({n}회): 다시 시도 중',
    'admin.campaigns': '응모 목록',
    'admin.no_campaigns': '아직 응모가 없습니다. 아래에서 만드세요.',
    'admin.paused': '일시 중지',
    'admin.revealed': '시드 공개됨',
    'admin.col.partition': '파티션',
    'admin.col.decided': '결정됨',
    'admin.col.end': '로그 끝',
    'admin.col.lag': '지연',
    'admin.col.store': '저장소',
    'admin.col.health': '상태',
    'admin.col.lag_events': '지연 (이벤트)',
    'admin.col.error': '오류',
    'admin.col.campaign': '응모',
    'admin.col.status': '상태',
    'admin.k.entries': '응모 수',
    'admin.k.entries_s': '초당 응모',
    'admin.k.queue': '대기열 길이',
    'admin.k.prequeued': '사전 대기',
    'admin.k.serving': '입장 순번',
    'admin.k.admission': '초당 입장 (설정 · 실제)',
    'admin.k.paused': '입장 일시 중지',
    'admin.k.stock_left': '남은 재고',
    'admin.k.drawn': '추첨됨',
    'admin.k.won': '당첨',
    'admin.k.lost': '낙첨',
    'admin.k.sold_out': '품절',
    'admin.k.cancelled': '취소',
    'admin.k.wait': '대기열 소진까지',
    'admin.admission_val': '{cfg} · {obs}',
    'admin.s.served': '초당 입장',
    'admin.s.observed': '관측 %',
    'admin.s.lo': '99.9% 하한',
    'admin.s.hi': '99.9% 상한',
    'admin.s.configured': '설정 %',
    'admin.win_none': '관측 당첨률: 아직 추첨 없음 (설정 {cfg}).',
    'admin.win_in': '관측 당첨률 {obs} (추첨 {n}건 중 {k}건 기준 미만). 99.9% 구간 {lo} – {hi}에 설정값 {cfg}이 포함됩니다.',
    'admin.win_out': '관측 당첨률 {obs} (추첨 {n}건 중 {k}건 기준 미만). 99.9% 구간 {lo} – {hi}에 설정값 {cfg}이 포함되지 않습니다.',
    'admin.chart.rate': '초당 응모',
    'admin.chart.queue': '대기열 길이와 입장 순번',
    'admin.chart.win': '관측 당첨률과 설정값 (%)',
    'admin.controls': '제어',
    'admin.pause': '입장 일시 중지',
    'admin.resume': '입장 재개',
    'admin.close': '마감',
    'admin.reveal': '시드 공개',
    'admin.restock': '재고 추가',
    'admin.restock_units': '추가할 수량',
    'admin.units_invalid': '수량은 0보다 큰 정수여야 합니다.',
    'admin.answer': 'API 응답',
    'admin.open_drop': '대기실 열기',
    'admin.open_verify': '검증 페이지 열기',
    'admin.confirm.pause': '“{id}”의 입장을 일시 중지할까요? 재개할 때까지 입장 순번이 멈춥니다.',
    'admin.confirm.resume': '“{id}”의 입장을 재개할까요?',
    'admin.confirm.close': '“{id}”을(를) 마감할까요? 이후에는 응모할 수 없으며 되돌릴 수 없습니다.',
    'admin.confirm.reveal': '“{id}”의 시드를 공개할까요? 누구나 모든 추첨을 다시 계산할 수 있게 됩니다.',
    'admin.confirm.restock': '“{id}”의 재고에 {units}개를 추가할까요?',
    'admin.confirm.create': '이 설정으로 “{id}” 응모를 만들까요?',
    'admin.create': '응모 만들기',
    'admin.create_btn': '만들기…',
    'admin.f.id': 'ID (영문, 숫자, . _ -)',
    'admin.f.title': '제목',
    'admin.f.stock': '재고',
    'admin.f.win_bps': '당첨률 (베이시스 포인트, 10000 = 100%)',
    'admin.f.rate': '입장 속도 (초당 순번, 0 = 즉시)',
    'admin.f.max_entries': '최대 응모 수 (0 = 제한 없음)',
    'admin.f.queueing': '대기 방식',
    'admin.f.opens_at': '오픈 시각 (무작위 대기, 현지 시간)',
  },
};

export function addStrings(more) {
  for (const l of LANGS) Object.assign(strings[l], (more && more[l]) || {});
}

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled
  }
}

export function lang() {
  const s = stored();
  if (LANGS.includes(s)) return s;
  const doc = (document.documentElement.lang || 'en').toLowerCase().slice(0, 2);
  return LANGS.includes(doc) ? doc : 'en';
}

export function t(key, vars) {
  const l = lang();
  let s = strings[l][key];
  if (s === undefined) s = strings.en[key];
  if (s === undefined) return key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
  return s;
}

export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-aria-label]')) el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}

export function setLang(l) {
  if (!LANGS.includes(l)) return;
  try {
    localStorage.setItem(STORAGE_KEY, l);
  } catch {}
  document.documentElement.lang = l;
  applyI18n();
  window.dispatchEvent(new CustomEvent('tl-langchange', { detail: { lang: l } }));
}

// Two toggle buttons; the current language's has aria-pressed="true".
export function mountLangSwitch(el) {
  el.replaceChildren();
  el.classList.add('lang-switch');
  el.setAttribute('role', 'group');
  el.setAttribute('aria-label', t('lang.label'));
  const buttons = LANGS.map((l) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.lang = l;
    b.dataset.lang = l;
    b.textContent = strings[l][`lang.${l}`];
    b.addEventListener('click', () => setLang(l));
    el.append(b);
    return b;
  });
  const sync = () => {
    for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.lang === lang()));
    el.setAttribute('aria-label', t('lang.label'));
  };
  sync();
  window.addEventListener('tl-langchange', sync);
}

// Numbers and times in the page's language.
export function fmtInt(n) {
  return n === null || n === undefined ? t('common.none') : new Intl.NumberFormat(lang()).format(n);
}
export function fmtPct(fraction, digits = 1) {
  return new Intl.NumberFormat(lang(), { style: 'percent', maximumFractionDigits: digits }).format(fraction);
}
export function fmtTime(ms) {
  return new Intl.DateTimeFormat(lang(), { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(ms));
}
export function fmtDuration(s) {
  if (s === null || s === undefined) return t('common.none');
  s = Math.max(0, Math.round(s));
  if (s < 60) return t('common.seconds', { n: s });
  if (s < 3600) return t('common.minutes', { m: Math.floor(s / 60), s: s % 60 });
  return t('common.hours', { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}
