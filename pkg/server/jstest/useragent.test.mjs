// Unit tests of the admin page's User-Agent parsing: node --test pkg/server/jstest
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { describeClient } from '../assets/useragent.mjs';

test('describeClient names the browser and the system', () => {
  const cases = [
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox 128 on macOS'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0', 'Edge 126 on Windows'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', 'Chrome 126 on Linux'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36', 'Headless Chrome 156 on Linux'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', 'Safari 17 on iOS'],
    ['Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36', 'Chrome 126 on Android'],
    ['curl/7.88.1', 'curl 7.88.1'],
    ['Wget/1.21.3', 'Wget 1.21.3'],
    ['Go-http-client/1.1', 'Go HTTP client 1.1'],
  ];
  for (const [ua, want] of cases) {
    assert.equal(describeClient(ua), want, ua);
  }
});

test('describeClient keeps an unknown client\'s first word, and nothing for none', () => {
  assert.equal(describeClient('python-requests/2.31.0'), 'python-requests/2.31.0');
  assert.equal(describeClient('MyTool (build 7)'), 'MyTool');
  assert.equal(describeClient(''), '');
  assert.equal(describeClient(undefined), '');
});
