// describeClient turns a User-Agent into "Firefox 128 on macOS"; the page
// keeps the full string on hover. A pure function, tested with Node's test
// runner (pkg/server/jstest).

const BROWSERS = [
  [/Edg\/(\d+)/, 'Edge'],
  [/OPR\/(\d+)/, 'Opera'],
  [/HeadlessChrome\/(\d+)/, 'Headless Chrome'],
  [/Chrom(?:e|ium)\/(\d+)/, 'Chrome'],
  [/Firefox\/(\d+)/, 'Firefox'],
  [/Version\/(\d+)[\d.]* (?:Mobile\/\S+ )?Safari\//, 'Safari'],
  [/^curl\/([\d.]+)/, 'curl'],
  [/^Wget\/([\d.]+)/, 'Wget'],
  [/^Go-http-client\/([\d.]+)/, 'Go HTTP client'],
];

const SYSTEMS = [
  [/iPhone|iPad/, 'iOS'],
  [/Android/, 'Android'],
  [/Windows NT/, 'Windows'],
  [/Mac OS X/, 'macOS'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux'],
];

export function describeClient(ua) {
  if (!ua) return '';
  let name = ua.split(/[\s(]/)[0];
  for (const [re, label] of BROWSERS) {
    const m = ua.match(re);
    if (m) {
      name = label + ' ' + m[1];
      break;
    }
  }
  for (const [re, label] of SYSTEMS) {
    if (re.test(ua)) return name + ' on ' + label;
  }
  return name;
}
