// The sign-in page's `next` parameter (issue 12, item 10): the open redirects a review
// found, plus the paths that must keep working. No browser needed: the module is pure.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { safeNext } from '../../web/assets/next.js';

const ORIGIN = 'https://app.example.com';

test('next never leaves the origin', () => {
  for (const attack of [
    '/\\evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    '//evil.example/path',
    '\\\\evil.example',
    'https://evil.example/',
    'javascript:alert(1)',
    'http://app.example.com/',
    'https://app.example.com.evil.example/',
  ]) {
    assert.equal(safeNext(attack, ORIGIN), '/', JSON.stringify(attack));
  }
});

test('paths on this site are kept', () => {
  assert.equal(safeNext('/upload', ORIGIN), '/upload');
  assert.equal(safeNext('/jobs/abc?tab=log#top', ORIGIN), '/jobs/abc?tab=log#top');
  assert.equal(safeNext('https://app.example.com/billing', ORIGIN), '/billing');
  assert.equal(safeNext(null, ORIGIN), '/');
  assert.equal(safeNext('', ORIGIN), '/');
});
