// Where to go after signing in: the `next` query parameter, only when it stays on this
// site. `next` is resolved the way the browser will resolve it (backslashes become
// slashes, tabs and newlines are dropped), so `/\evil.example` and `/<tab>/evil.example`,
// which look like paths but are protocol-relative URLs to another host, go to `/`.

export function safeNext(raw, origin) {
  if (!raw) return '/';
  let url;
  try {
    url = new URL(raw, origin);
  } catch {
    return '/';
  }
  if (url.origin !== origin) return '/';
  return url.pathname + url.search + url.hash;
}
