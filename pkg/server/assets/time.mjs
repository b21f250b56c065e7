// Times as the admin page shows them: relative ("2 hours ago"), with the
// exact UTC time on hover. Pure functions, tested with Node's test runner
// (pkg/server/jstest).

const relFormat = new Intl.RelativeTimeFormat('en', { numeric: 'always' });

// unit, seconds in it, up to how many of them before the next unit
const UNITS = [
  ['second', 1, 45],
  ['minute', 60, 45],
  ['hour', 3600, 22],
  ['day', 86400, 26],
  ['month', 2629800, 11],
  ['year', 31557600, Infinity],
];

// relative says when iso is from now (milliseconds since the epoch):
// "2 hours ago", "in 45 minutes", "just now".
export function relative(iso, now) {
  const seconds = (Date.parse(iso) - now) / 1000;
  if (Number.isNaN(seconds)) return iso;
  const abs = Math.abs(seconds);
  if (abs < 10) return seconds <= 0 ? 'just now' : 'in a few seconds';
  for (const [unit, size, limit] of UNITS) {
    const n = Math.round(abs / size);
    if (n < limit) return relFormat.format(Math.sign(seconds) * n, unit);
  }
  return iso;
}

// exactUTC is the full timestamp shown on hover: "2026-03-01 10:00:00 UTC".
export function exactUTC(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}
