// The browser tests' harness: real ticketd processes, Debian's chromium driven
// by puppeteer-core, and a page wrapper that fails the test on any console
// error, page error or failed request the current step did not declare.
//
//   import { run } from './harness.mjs';
//   run('drop', async (h) => {
//     const srv = await h.ticketd({ flags: ['--demo'] });      // --dev, free port, temp data dir
//     const admin = await h.token('ops', { admin: true });
//     const api = h.api(srv);
//     await api.createCampaign(admin, { id: 'c1', stock: 5, win_bps: 5000 });
//     const page = await h.page();                               // 1280x800, English
//     await h.step('open the waiting page', async () => {
//       await page.goto(`${srv.url}/drops/c1`);
//       page.expectFailure(/\/admin\/campaigns\/c1\/restock$/, 409); // for this step only
//       await page.screenshot('drop');                           // <out>/drop.png
//     });
//   }, { timeoutMs: 120_000 });
//
// Command line (ctest passes these): --ticketd PATH --ticketctl PATH --out DIR
// [--chromium PATH] [--keep] (keep the temp data dirs). Exit 0 = pass, 1 = fail.
import { spawn, execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

// ---------------------------------------------------------------- arguments

export function parseArgs(argv = process.argv.slice(2)) {
  const a = {
    ticketd: process.env.TL_TICKETD || path.join(repoRoot, 'build', 'ticketd'),
    ticketctl: process.env.TL_TICKETCTL || path.join(repoRoot, 'build', 'ticketctl'),
    out: process.env.TL_BROWSER_OUT || path.join(repoRoot, 'build', 'browser-out'),
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
    keep: false,
    headful: false,
  };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--ticketd') a.ticketd = path.resolve(val());
    else if (k === '--ticketctl') a.ticketctl = path.resolve(val());
    else if (k === '--out') a.out = path.resolve(val());
    else if (k === '--chromium') a.chromium = val();
    else if (k === '--keep') a.keep = true;
    else if (k === '--headful') a.headful = true;
    else throw new Error(`unknown argument ${k} (--ticketd, --ticketctl, --out, --chromium, --keep)`);
  }
  return a;
}

// ---------------------------------------------------------------- logging

const t0 = Date.now();
function stamp() {
  return `[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`;
}
export function log(...args) {
  console.log(stamp(), ...args);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `fn` until it returns a truthy value; throws with `what` on timeout.
export async function until(what, fn, { timeoutMs = 15000, everyMs = 100 } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      const detail = last instanceof Error ? `: ${last.message}` : last === undefined ? '' : ` (last: ${JSON.stringify(last)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(everyMs);
  }
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}
export function assertEqual(actual, expected, msg) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`assertion failed: ${msg}: got ${a}, want ${e}`);
}

// ---------------------------------------------------------------- ports

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- export

// Every page of a campaign's ledger export (GET .../ledger), as one string.
export async function exportOf(srv, id, limit = 10000) {
  let body = '';
  for (let offset = 0; ; ) {
    const r = await fetch(`${srv.url}/v1/campaigns/${id}/ledger?offset=${offset}&limit=${limit}`);
    assertEqual(r.status, 200, `GET ledger ${id} offset ${offset}`);
    assertEqual(r.headers.get('content-type'), 'application/x-ndjson', 'export content type');
    body += await r.text();
    offset = Number(r.headers.get('ledger-next-offset'));
    if (r.headers.get('ledger-complete') === 'true') return body;
  }
}

// ---------------------------------------------------------------- ticketd

// One ticketd process on a fixed port and data dir: stop() and start() again
// keep both, so a page that lost it reconnects to the same address.
export class Ticketd {
  constructor(h, { flags = [], dev = true, name } = {}) {
    this.h = h;
    this.flags = flags;
    this.dev = dev;
    this.name = name || `ticketd${h.ticketds.length}`;
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-browser-'));
    this.port = 0;
    this.url = '';
    this.proc = null;
    this.starts = 0;
    this.logPath = path.join(h.args.out, `${h.name}.${this.name}.log`);
  }

  async start() {
    if (this.proc) throw new Error(`${this.name} already running`);
    if (!this.port) this.port = await freePort();
    const args = ['--port', String(this.port), '--host', '127.0.0.1', '--data-dir', this.dataDir];
    if (this.dev) args.push('--dev');
    args.push(...this.flags);
    ++this.starts;
    const logFile = fs.openSync(this.logPath, 'a');
    fs.writeSync(logFile, `--- start ${this.starts}: ${this.h.args.ticketd} ${args.join(' ')}\n`);
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('TICKETD_')) delete env[k];
    const proc = spawn(this.h.args.ticketd, args, { stdio: ['ignore', 'pipe', logFile], env });
    fs.closeSync(logFile);
    this.proc = proc;
    const exited = once(proc, 'exit').then(([code, sig]) => {
      if (this.proc === proc) this.proc = null;
      return { code, sig };
    });
    this.exited = exited;
    const lines = readline.createInterface({ input: proc.stdout });
    const listening = new Promise((resolve) => {
      lines.on('line', (line) => {
        fs.appendFileSync(this.logPath, `stdout: ${line}\n`);
        if (/listening on [0-9.]+:\d+/.test(line)) resolve(line);
      });
    });
    const timeout = sleep(20000).then(() => 'timeout');
    const first = await Promise.race([listening, exited, timeout]);
    if (first === 'timeout' || typeof first !== 'string') {
      await this.stop().catch(() => {});
      throw new Error(`${this.name} did not start (${JSON.stringify(first)}); log:\n${this.logTail()}`);
    }
    this.url = `http://127.0.0.1:${this.port}`;
    log(`${this.name} up at ${this.url} (start ${this.starts})`);
    return this;
  }

  // SIGTERM (a clean stop), SIGKILL after `graceMs`.
  async stop({ signal = 'SIGTERM', graceMs = 10000 } = {}) {
    const proc = this.proc;
    if (!proc) return;
    proc.kill(signal);
    const killer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(killer);
    this.proc = null;
    log(`${this.name} stopped (${signal})`);
  }

  async restart() {
    await this.stop();
    return this.start();
  }

  logTail(n = 40) {
    try {
      return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-n).join('\n');
    } catch {
      return '(no log)';
    }
  }

  cleanupSync() {
    if (this.proc) {
      try {
        this.proc.kill('SIGKILL');
      } catch {}
    }
    if (!this.h.args.keep) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- API client

export class ApiError extends Error {
  constructor(method, url, status, body) {
    super(`${method} ${url} -> ${status} ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

export class Api {
  constructor(srv) {
    this.srv = srv;
  }

  // One call: returns {status, body, headers}; throws ApiError unless the
  // status is in `ok` (default: any 2xx).
  async call(method, pathname, { token, body, headers = {}, ok } = {}) {
    const url = this.srv.url + pathname;
    const h = { ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    let payload;
    if (body !== undefined) {
      h['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    } else if (method !== 'GET' && method !== 'HEAD') {
      payload = '';
    }
    const res = await fetch(url, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {}
    const good = ok ? ok.includes(res.status) : res.status >= 200 && res.status < 300;
    if (!good) throw new ApiError(method, pathname, res.status, parsed);
    return { status: res.status, body: parsed, headers: res.headers };
  }

  async get(p, token, opts = {}) {
    return (await this.call('GET', p, { token, ...opts })).body;
  }
  async post(p, token, body, opts = {}) {
    return (await this.call('POST', p, { token, body, ...opts })).body;
  }

  campaign(id) {
    return this.get(`/v1/campaigns/${encodeURIComponent(id)}`);
  }
  createCampaign(adminToken, spec) {
    return this.post('/v1/admin/campaigns', adminToken, spec);
  }
  admin(adminToken, id, action, body) {
    return this.post(`/v1/admin/campaigns/${encodeURIComponent(id)}/${action}`, adminToken, body);
  }
  close(adminToken, id) {
    return this.admin(adminToken, id, 'close');
  }
  reveal(adminToken, id) {
    return this.admin(adminToken, id, 'reveal');
  }
  entry(token, id) {
    return this.get(`/v1/campaigns/${encodeURIComponent(id)}/entries/me`, token);
  }
  enter(token, id, headers = {}) {
    return this.post(`/v1/campaigns/${encodeURIComponent(id)}/entries`, token, undefined, { headers });
  }

  // Enters every token, `concurrency` at a time; returns the answers in order.
  async enterMany(tokens, id, { concurrency = 50 } = {}) {
    const out = new Array(tokens.length);
    let next = 0;
    const worker = async () => {
      while (next < tokens.length) {
        const i = next++;
        out[i] = await this.enter(tokens[i], id);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, tokens.length) }, worker));
    return out;
  }

  // Waits until the engine has decided every entry (entries = users).
  waitCampaign(id, what, pred, opts) {
    return until(what, async () => {
      const c = await this.campaign(id);
      return pred(c) ? c : false;
    }, opts);
  }
}

// ---------------------------------------------------------------- pages

// A puppeteer page that records every console error, page error and failed
// request; one not declared by the current step fails the test.
export class TestPage {
  constructor(h, page, name) {
    this.h = h;
    this.page = page;
    this.name = name;
    this.expected = []; // {re, status} for the current step
    this.problems = [];
    this.shots = [];
    this.requests = []; // {at, method, url}: what the page asked, to check its pacing
    page.on('request', (req) => this.requests.push({ at: Date.now(), method: req.method(), url: req.url() }));
    page.on('console', (msg) => {
      const type = msg.type();
      const loc = msg.location() || {};
      if (process.env.TL_BROWSER_VERBOSE) log(`  [${name} console.${type}] ${msg.text()}`);
      if (type !== 'error') return;
      const text = msg.text();
      // Chrome logs every failed fetch/EventSource as a console error naming
      // its URL: allowed when that request was declared.
      if (this.allowed(loc.url || '', null, text)) return;
      this.problem(`console error: ${text}${loc.url ? ` (at ${loc.url}${loc.lineNumber !== undefined ? `:${loc.lineNumber}` : ""})` : ''}`);
    });
    page.on('pageerror', (err) => this.problem(`page error: ${err && err.message ? err.message : err}`));
    page.on('response', (res) => {
      const status = res.status();
      if (status < 400) return;
      if (this.allowed(res.url(), status)) {
        log(`  (expected) ${res.request().method()} ${res.url()} -> ${status}`);
        return;
      }
      this.problem(`request failed: ${res.request().method()} ${res.url()} -> ${status}`);
    });
    page.on('requestfailed', (req) => {
      const why = (req.failure() && req.failure().errorText) || 'failed';
      // A stream the page itself closes (EventSource.close, navigation) is
      // reported as aborted: that is not a failure.
      if (why === 'net::ERR_ABORTED') return;
      if (this.allowed(req.url(), 'failed')) {
        log(`  (expected) ${req.method()} ${req.url()} -> ${why}`);
        return;
      }
      this.problem(`request failed: ${req.method()} ${req.url()} -> ${why}`);
    });
  }

  // Declares, for the current step, that requests matching `urlRegex` may
  // fail with `status` (a number, 'failed' for a network failure, or '*').
  expectFailure(urlRegex, status = '*') {
    this.expected.push({ re: urlRegex, status });
  }

  allowed(url, status, text) {
    return this.expected.some((e) => {
      if (text !== undefined) {
        // a console line: match the URL in it (or its location), any status
        return e.re.test(url) || (text.match(/https?:\/\/\S+/g) || []).some((u) => e.re.test(u));
      }
      return e.re.test(url) && (e.status === '*' || e.status === status);
    });
  }

  problem(msg) {
    log(`  PROBLEM [${this.name}] ${msg}`);
    this.problems.push(`${this.h.currentStep || '(no step)'}: ${msg}`);
  }

  // The requests since `since` (ms) whose URL matches `re`.
  requestsSince(since, re) {
    return this.requests.filter((r) => r.at >= since && re.test(r.url));
  }

  async goto(url, opts = {}) {
    return this.page.goto(url, { waitUntil: 'load', ...opts });
  }

  async screenshot(name, opts = {}) {
    const file = path.join(this.h.args.out, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true, ...opts });
    this.shots.push(file);
    log(`  screenshot ${file}`);
    return file;
  }

  // Text content of the first element matching `sel` ('' if none).
  text(sel) {
    return this.page.$eval(sel, (el) => el.textContent.trim()).catch(() => '');
  }
  // Waits for `sel` and for its text to satisfy `pred` (a regex or function).
  async waitText(sel, pred, { timeoutMs = 15000 } = {}) {
    const test = typeof pred === 'function' ? pred : (s) => pred.test(s);
    return until(`${sel} text to match ${pred}`, async () => {
      const s = await this.text(sel);
      return test(s) ? s : false;
    }, { timeoutMs });
  }
  visible(sel) {
    return this.page
      .$eval(sel, (el) => {
        const r = el.getBoundingClientRect();
        const st = getComputedStyle(el);
        return !el.hidden && st.display !== 'none' && st.visibility !== 'hidden' && r.width > 0 && r.height > 0;
      })
      .catch(() => false);
  }
  async noHorizontalScroll() {
    return this.page.evaluate(() => {
      const d = document.documentElement;
      return { scrollWidth: d.scrollWidth, clientWidth: d.clientWidth, ok: d.scrollWidth <= d.clientWidth };
    });
  }
  // Proxies the rest of puppeteer's Page (click, type, $, evaluate, ...).
  get raw() {
    return this.page;
  }
  click(sel) {
    return this.page.click(sel);
  }
  type(sel, s) {
    return this.page.type(sel, s);
  }
  evaluate(fn, ...args) {
    return this.page.evaluate(fn, ...args);
  }
  waitFor(sel, opts = {}) {
    return this.page.waitForSelector(sel, { timeout: 15000, ...opts });
  }
  reload() {
    return this.page.reload({ waitUntil: 'load' });
  }
}

// ---------------------------------------------------------------- the run

class Harness {
  constructor(name, args) {
    this.name = name;
    this.args = args;
    this.ticketds = [];
    this.pages = [];
    this.browser = null;
    this.currentStep = null;
    this.tokenCache = new Map();
  }

  async ticketd(opts = {}) {
    const t = new Ticketd(this, opts);
    this.ticketds.push(t);
    return t.start();
  }

  api(srv) {
    return new Api(srv);
  }

  // A dev JWT from `ticketctl --dev token`.
  async token(user, { admin = false, ttlS } = {}) {
    const key = `${user}|${admin}`;
    if (this.tokenCache.has(key)) return this.tokenCache.get(key);
    const args = ['--dev', 'token', '--user', user];
    if (admin) args.push('--admin');
    if (ttlS) args.push('--ttl-s', String(ttlS));
    const tok = (await this.ticketctl(args)).trim();
    this.tokenCache.set(key, tok);
    return tok;
  }

  // `count` dev JWTs for users `<prefix>-0` .. `<prefix>-(count-1)` (one process).
  async tokens(prefix, count) {
    const out = await this.ticketctl(['--dev', 'token', '--user', prefix, '--count', String(count)]);
    const toks = out.trim().split('\n');
    assert(toks.length === count, `ticketctl minted ${toks.length} tokens, want ${count}`);
    return toks.map((token, i) => ({ user: `${prefix}-${i}`, token }));
  }

  ticketctl(args) {
    return new Promise((resolve, reject) => {
      execFile(this.args.ticketctl, args, { timeout: 30000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`ticketctl ${args.join(' ')}: ${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
  }

  async launch() {
    if (this.browser) return this.browser;
    const require = createRequire(path.join(repoRoot, 'api', 'web', 'package.json'));
    let entry;
    try {
      entry = require.resolve('puppeteer-core');
    } catch {
      throw new Error('puppeteer-core is not installed: run `npm ci --prefix api/web`');
    }
    const mod = await import(pathToFileURL(entry).href);
    const puppeteer = mod.default || mod;
    if (!fs.existsSync(this.args.chromium)) throw new Error(`no chromium at ${this.args.chromium} (ops/install-deps.sh installs it)`);
    const args = ['--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check', '--disable-gpu'];
    if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
    this.browser = await puppeteer.launch({
      executablePath: this.args.chromium,
      headless: !this.args.headful,
      args,
      protocolTimeout: 60000,
    });
    log(`chromium ${await this.browser.version()}`);
    return this.browser;
  }

  // A fresh page in its own browser context (its own cookies and storage),
  // unless `context` is given to share one (a reopened tab).
  // lang: 'en' | 'ko' sets Accept-Language; viewport: {width, height}.
  async page({ name, lang = 'en', viewport = { width: 1280, height: 800 }, context } = {}) {
    const browser = await this.launch();
    const ctx = context || (await browser.createBrowserContext());
    const p = await ctx.newPage();
    await p.setViewport({ deviceScaleFactor: 1, ...viewport });
    await p.setExtraHTTPHeaders({ 'Accept-Language': lang === 'ko' ? 'ko-KR,ko;q=0.9,en;q=0.5' : 'en-US,en;q=0.9' });
    p.setDefaultTimeout(15000);
    const tp = new TestPage(this, p, name || `page${this.pages.length}`);
    tp.context = ctx;
    this.pages.push(tp);
    return tp;
  }

  // One named step: logged, and it fails if any page recorded a problem the
  // step did not declare. Declarations (expectFailure) end with the step.
  async step(name, fn) {
    this.currentStep = name;
    log(`STEP ${name}`);
    const started = Date.now();
    let result;
    let error = null;
    try {
      result = await fn();
    } catch (e) {
      error = e;
    }
    // Late events (a response that arrives as the step ends) still belong to it.
    await sleep(50);
    for (const p of this.pages) p.expected = [];
    this.currentStep = null;
    const problems = this.pages.flatMap((p) => p.problems.splice(0));
    if (problems.length) {
      const msg = `step "${name}" had unexpected browser problems:\n  ${problems.join('\n  ')}`;
      throw new Error(error ? `${msg}\nand failed: ${error.stack || error}` : msg);
    }
    if (error) {
      error.message = `step "${name}": ${error.message}`;
      throw error;
    }
    log(`  ok (${Date.now() - started} ms)`);
    return result;
  }

  async cleanup() {
    if (this.browser) {
      const b = this.browser;
      this.browser = null;
      await Promise.race([b.close().catch(() => {}), sleep(5000)]);
      const proc = b.process && b.process();
      if (proc && proc.exitCode === null) {
        try {
          proc.kill('SIGKILL');
        } catch {}
      }
    }
    await Promise.all(this.ticketds.map((t) => t.stop({ graceMs: 5000 }).catch(() => {})));
    for (const t of this.ticketds) t.cleanupSync();
  }

  cleanupSync() {
    try {
      const proc = this.browser && this.browser.process && this.browser.process();
      if (proc && proc.exitCode === null) proc.kill('SIGKILL');
    } catch {}
    for (const t of this.ticketds) t.cleanupSync();
  }
}

// Runs one test file's body; exits the process with 0 (pass) or 1 (fail).
export async function run(name, body, { timeoutMs = 150000 } = {}) {
  let args;
  try {
    args = parseArgs();
  } catch (e) {
    console.error(`usage: ${e.message}`);
    process.exit(2);
  }
  fs.mkdirSync(args.out, { recursive: true });
  const h = new Harness(name, args);
  const onSignal = (sig) => {
    log(`${sig}: cleaning up`);
    h.cleanupSync();
    process.exit(1);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => h.cleanupSync());
  log(`TEST ${name} (ticketd ${args.ticketd}, out ${args.out}, timeout ${timeoutMs / 1000} s)`);
  let timer;
  let failed = null;
  try {
    await Promise.race([
      body(h),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`test timed out after ${timeoutMs / 1000} s (step: ${h.currentStep || 'none'})`)), timeoutMs);
      }),
    ]);
    const left = h.pages.flatMap((p) => p.problems);
    if (left.length) throw new Error(`unexpected browser problems:\n  ${left.join('\n  ')}`);
  } catch (e) {
    failed = e;
  } finally {
    clearTimeout(timer);
  }
  if (failed) {
    console.error(`${stamp()} FAIL ${name}: ${failed.stack || failed}`);
    for (const p of h.pages) {
      try {
        if (!p.page.isClosed()) await Promise.race([p.screenshot(`${name}-failure-${p.name}`), sleep(5000)]);
      } catch {}
    }
    for (const t of h.ticketds) console.error(`--- ${t.name} log tail:\n${t.logTail()}`);
  }
  await h.cleanup();
  if (failed) process.exit(1);
  log(`PASS ${name}`);
  process.exit(0);
}
