// The Node flags the built server runs with: `npm start` (and so the Docker image) and the
// benchmarks start it the same way. Node built-ins only.
//
// --max-semi-space-size=8: V8's young generation grows to 16 MB semi-spaces under load by
// default. 8 MB held the relay's peak RSS at c=32 to 188–191 MB instead of 203–209 MB, with the same
// CPU per request (three alternating `npm run bench` pairs) and no more CPU per stream at 1,000
// concurrent streams. 4 MB went lower still but cost a quarter more CPU per stream (more objects
// promoted), so 8 it is.

/** The flags, unless NODE_OPTIONS already sets the same one (the operator's choice wins). */
export function serverNodeFlags(env = process.env) {
  const set = env.NODE_OPTIONS ?? ''
  return set.includes('--max-semi-space-size') ? [] : ['--max-semi-space-size=8']
}
