// The pages' receipt verifier (api/web/static/js/merkle.js) and at-close
// draw key (draw.js) against the engine: the Certificate Transparency
// vectors of tests/core/merkle_test.cc, the entry-leaf root checked there
// against Python, and receipts and at-close draws made by the engine's own
// code (engine_vectors.cc, run by ctest through TL_ENGINE_VECTORS; by hand,
// its saved output engine_vectors.json). Run: node --test tests/browser/unit/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const js = path.join(here, '..', '..', '..', 'api', 'web', 'static', 'js');
const M = await import(path.join(js, 'merkle.js'));
const D = await import(path.join(js, 'draw.js'));

function engineVectors() {
  const bin = process.env.TL_ENGINE_VECTORS;
  const text = bin ? execFileSync(bin, { encoding: 'utf8' }) : fs.readFileSync(path.join(here, 'engine_vectors.json'), 'utf8');
  return JSON.parse(text);
}
const V = engineVectors();

// RFC 6962's test leaves and the roots of their prefixes (tests/core/merkle_test.cc).
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

const hex = D.bytesToHex;
const flip = (h, at = 0) => h.slice(0, at) + ((parseInt(h[at], 16) ^ 1).toString(16)) + h.slice(at + 1);

test('roots match the Certificate Transparency vectors (recursive and streaming)', async () => {
  const hashes = [];
  for (const l of CT_LEAVES) hashes.push(await M.leafHash(D.hexToBytes(l)));
  for (let n = 1; n <= CT_LEAVES.length; n++) {
    assert.equal(hex(await M.rootOf(hashes.slice(0, n))), CT_ROOTS[n - 1], `MTH of ${n}`);
    const b = new M.RootBuilder();
    for (const h of hashes.slice(0, n)) await b.add(h);
    assert.equal(hex(await b.root()), CT_ROOTS[n - 1], `streamed MTH of ${n}`);
  }
  assert.equal(hex(await M.rootOf([])), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('the entry leaf is the documented text', async () => {
  assert.equal(M.leafText(42, 1700000000123, 'alice'), 'ticketledger/entry/v1|42|1700000000123|alice');
  assert.equal(M.leafText('42', 1700000000123n, 'alice'), 'ticketledger/entry/v1|42|1700000000123|alice');
  const h = [
    await M.leafHash(M.leafText(1, 1000, 'alice')),
    await M.leafHash(M.leafText(2, 1001, 'bob')),
    await M.leafHash(M.leafText(3, 1002, 'carol')),
  ];
  assert.equal(hex(await M.rootOf(h)), 'c3f45f9c24da80d2289a9fa64ed40bb13211e8a29970ffcc7777ff52ac17cf24');
  assert.throws(() => M.leafText(-1, 0, 'a'), /position/);
  assert.throws(() => M.leafText(1, 'x', 'a'), /entry time/);
});

test('every proof of every tree size 1..40 verifies, and no tampered one does', async () => {
  for (let n = 1; n <= 40; n++) {
    const hashes = [];
    for (let i = 0; i < n; i++) hashes.push(await M.leafHash(M.leafText(i + 1, i, 'u')));
    const root = await M.rootOf(hashes);
    for (let i = 0; i < n; i++) {
      const path = await M.proofOf(hashes, i);
      assert.ok((await M.verifyInclusion(i, n, hashes[i], path, root)).ok, `${n} ${i}`);
      assert.ok(!(await M.verifyInclusion(i, n, await M.leafHash('other'), path, root)).ok);
      if (n > 1) assert.ok(!(await M.verifyInclusion((i + 1) % n, n, hashes[i], path, root)).ok);
      if (path.length > 0) {
        const bad = path.map((p) => new Uint8Array(p));
        bad[0][0] ^= 1;
        assert.ok(!(await M.verifyInclusion(i, n, hashes[i], bad, root)).ok);
        assert.equal((await M.verifyInclusion(i, n, hashes[i], path.slice(0, -1), root)).why, 'path_too_short');
        assert.equal((await M.verifyInclusion(i, n, hashes[i], [...path, path[0]], root)).why, 'path_too_long');
      }
    }
    assert.equal((await M.verifyInclusion(n, n, hashes[0], await M.proofOf(hashes, 0), root)).why, 'index_out_of_range');
  }
});

test("the engine's receipts verify, field by field, and one changed hex digit anywhere does not", async () => {
  const { root, receipts } = V.merkle;
  assert.equal(receipts.length, 12);
  const leafHashes = [];
  for (const r of receipts) {
    const c = await M.checkReceipt(r, root);
    assert.ok(c.ok, `position ${r.position}: ${JSON.stringify(c.checks.filter((x) => !x.ok))}`);
    assert.equal(c.computedRoot, root);
    assert.equal(c.leaf, r.leaf);
    leafHashes.push(D.hexToBytes(r.leaf_hash));
  }
  assert.equal(hex(await M.rootOf(leafHashes)), root, 'the root of the engine leaves');
  // This module's own proofs are the engine's paths.
  for (let i = 0; i < receipts.length; i++) {
    assert.deepEqual((await M.proofOf(leafHashes, i)).map(hex), receipts[i].path, `proof of ${i}`);
  }
  const r = receipts[5];
  for (let j = 0; j < r.path.length; j++) {
    for (const at of [0, 17, 63]) {
      const bad = { ...r, path: r.path.map((p, k) => (k === j ? flip(p, at) : p)) };
      assert.ok(!(await M.checkReceipt(bad, root)).ok, `path[${j}] digit ${at}`);
    }
  }
  assert.ok(!(await M.checkReceipt({ ...r, user: 'mallory2' }, root)).ok, 'another user');
  assert.ok(!(await M.checkReceipt({ ...r, entry_time_ms: r.entry_time_ms + 1 }, root)).ok, 'another entry time');
  assert.ok(!(await M.checkReceipt({ ...r, position: r.position + 1, index: r.index + 1 }, root)).ok, 'another position');
  assert.ok(!(await M.checkReceipt(r, flip(root, 10))).ok, 'another published root');
  // The tree size shapes the path of the last leaf (an inner leaf's path can
  // be the same in a larger tree: the root is what binds it).
  const last = receipts[11];
  for (const size of [11, 13, 16]) assert.ok(!(await M.checkReceipt({ ...last, tree_size: size }, root)).ok, `tree size ${size}`);
  const lying = await M.checkReceipt({ ...r, leaf_hash: flip(r.leaf_hash) }, root);
  assert.ok(!lying.ok && lying.checks.find((c) => c.id === 'leaf_hash').ok === false, 'a receipt whose leaf_hash is not its leaf');
  await assert.rejects(M.checkReceipt({ ...r, path: ['zz'] }, root), /hex/);
  await assert.rejects(M.checkReceipt({ ...r, path: [r.path[0].slice(2)] }, root), /32 bytes/);
  await assert.rejects(M.checkReceipt({ position: 1 }, root), /entry_time_ms/);
});

test("the at-close key and draw values equal the engine's (draw.h AtCloseKey)", async () => {
  const a = V.at_close;
  assert.equal(hex(await D.atCloseKey(a.seed, true, a.entropy_value)), a.key);
  assert.equal(hex(await D.atCloseKey(a.seed, false, '')), a.uncommitted_key);
  const drawer = await D.Drawer.create(a.key);
  for (const d of a.draws) assert.equal((await drawer.drawValue(d.campaign, d.position, d.user)).toString(), d.value);
  // Another entropy value: another key.
  assert.notEqual(hex(await D.atCloseKey(a.seed, true, a.entropy_value + ' ')), a.key);
});

test('the at-close selection: the smallest eligible values win, ties by position, the rest waitlisted in order', () => {
  const T = D.winThreshold(5000);
  const entries = [
    { position: 1, value: T + 5n }, // not eligible
    { position: 2, value: 30n },
    { position: 3, value: 10n },
    { position: 4, value: 30n }, // tie with 2: after it
    { position: 5, value: 20n },
    { position: 6, value: T - 1n },
  ];
  const s = D.atCloseSelection(entries, 5000, 2);
  assert.deepEqual(
    [...s.entries()].sort((x, y) => Number(x[0]) - Number(y[0])),
    [
      ['1', { outcome: 'LOST', rank: 0 }],
      ['2', { outcome: 'WAITLISTED', rank: 1 }],
      ['3', { outcome: 'WON', rank: 0 }],
      ['4', { outcome: 'WAITLISTED', rank: 2 }],
      ['5', { outcome: 'WON', rank: 0 }],
      ['6', { outcome: 'WAITLISTED', rank: 3 }],
    ],
  );
  const all = D.atCloseSelection(entries, 10000, 10);
  assert.ok([...all.values()].every((x) => x.outcome === 'WON'));
});
