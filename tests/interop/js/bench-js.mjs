// js <-> js baseline over loopback: two peer.mjs processes, A dials B.
// Run: node --import ./polyfill.mjs bench-js.mjs [--bytes N] [--streams N] [--repeat N]
// Prints one JSON object with the figures (MB = 10^6 bytes).
import { PeerProcess } from './driver.mjs'

function parse (argv) {
  const o = { bytes: 256 * 1024 * 1024, streams: 2000, concurrentStreams: 2000, concurrency: 32, repeat: 3 }
  for (let i = 0; i < argv.length; i += 2) {
    const v = Number(argv[i + 1])
    switch (argv[i]) {
      case '--bytes': o.bytes = v; break
      case '--streams': o.streams = v; break
      case '--concurrent-streams': o.concurrentStreams = v; break
      case '--concurrency': o.concurrency = v; break
      case '--repeat': o.repeat = v; break
      default: throw new Error(`unknown argument ${argv[i]}`)
    }
  }
  return o
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const o = parse(process.argv.slice(2))
// No connection monitor: its pings every 10 s are noise in a measurement.
const a = await PeerProcess.start(['--no-monitor'])
const b = await PeerProcess.start(['--no-monitor'])
try {
  await a.send('dial', { addr: b.addrs[0] })
  // Warm up (JIT, yamux window growth) before measuring.
  await a.send('send', { peer: b.peerId, bytes: 16 * 1024 * 1024 })
  await a.send('streams', { peer: b.peerId, count: 200, concurrency: 1 })

  const push = []
  const pull = []
  for (let i = 0; i < o.repeat; i++) {
    const s = await a.send('send', { peer: b.peerId, bytes: o.bytes })
    if (!s.match) throw new Error('push: hash mismatch')
    push.push(s.MBps)
    const r = await a.send('receive', { peer: b.peerId, bytes: o.bytes })
    if (!r.match) throw new Error('pull: hash mismatch')
    pull.push(r.MBps)
  }
  const seq = []
  const par = []
  for (let i = 0; i < o.repeat; i++) {
    const s = await a.send('streams', { peer: b.peerId, count: o.streams, concurrency: 1 })
    if (!s.ok) throw new Error(`sequential streams failed: ${JSON.stringify(s.failures)}`)
    seq.push(s.streamsPerSec)
    const p = await a.send('streams', { peer: b.peerId, count: o.concurrentStreams, concurrency: o.concurrency })
    if (!p.ok) throw new Error(`concurrent streams failed: ${JSON.stringify(p.failures)}`)
    par.push(p.streamsPerSec)
  }
  const ping = await a.send('ping', { peer: b.peerId, count: 20 })
  console.log(JSON.stringify({
    pair: 'js<->js',
    node: process.version,
    libp2p: '3.3.11',
    bytes: o.bytes,
    repeat: o.repeat,
    pushMBps: { median: median(push), all: push },
    pullMBps: { median: median(pull), all: pull },
    streamsPerSecSequential: { median: median(seq), all: seq, count: o.streams },
    streamsPerSecConcurrent: { median: median(par), all: par, count: o.concurrentStreams, concurrency: o.concurrency },
    pingRttMs: { median: median(ping.rtts), all: ping.rtts }
  }))
} finally {
  await Promise.all([a.stop(), b.stop()])
}
