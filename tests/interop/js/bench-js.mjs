// js <-> js baseline over loopback: two peer.mjs processes, A dials B.
// Run: node --import ./polyfill.mjs bench-js.mjs [--bytes N] [--streams N] [--repeat N]
// Prints one JSON object with the figures (MB = 10^6 bytes).
import { cpus, loadavg } from 'node:os'
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

  // CPU milliseconds both processes spent, from their own counters.
  const cpuMs = async () => {
    const [x, y] = await Promise.all([a.send('stats'), b.send('stats')])
    return x.cpuUserMs + x.cpuSystemMs + y.cpuUserMs + y.cpuSystemMs
  }
  const push = []
  const pull = []
  const pushCpu = []
  const pullCpu = []
  const mib = o.bytes / 1048576
  for (let i = 0; i < o.repeat; i++) {
    let c0 = await cpuMs()
    const s = await a.send('send', { peer: b.peerId, bytes: o.bytes })
    if (!s.match) throw new Error('push: hash mismatch')
    push.push(s.MBps)
    let c1 = await cpuMs()
    pushCpu.push(Math.round((c1 - c0) / mib * 100) / 100)
    c0 = c1
    const r = await a.send('receive', { peer: b.peerId, bytes: o.bytes })
    if (!r.match) throw new Error('pull: hash mismatch')
    pull.push(r.MBps)
    c1 = await cpuMs()
    pullCpu.push(Math.round((c1 - c0) / mib * 100) / 100)
  }
  const seq = []
  const par = []
  const seqCpu = []
  for (let i = 0; i < o.repeat; i++) {
    const c0 = await cpuMs()
    const s = await a.send('streams', { peer: b.peerId, count: o.streams, concurrency: 1 })
    if (!s.ok) throw new Error(`sequential streams failed: ${JSON.stringify(s.failures)}`)
    seq.push(s.streamsPerSec)
    seqCpu.push(Math.round((await cpuMs() - c0) / o.streams * 1000) / 1000)
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
    // Both processes' CPU time per MiB moved (SHA-256 on both ends included): steadier than MB/s when
    // the machine is shared.
    pushCpuMsPerMiB: { median: median(pushCpu), all: pushCpu },
    pullCpuMsPerMiB: { median: median(pullCpu), all: pullCpu },
    streamsPerSecSequential: { median: median(seq), all: seq, count: o.streams },
    streamCpuMsPerStream: { median: median(seqCpu), all: seqCpu },
    streamsPerSecConcurrent: { median: median(par), all: par, count: o.concurrentStreams, concurrency: o.concurrency },
    pingRttMs: { median: median(ping.rtts), all: ping.rtts },
    // Other work on the machine skews every figure: compare pairs measured in the same run.
    cpus: cpus().length,
    loadavg1m: Math.round(loadavg()[0] * 10) / 10
  }))
} finally {
  await Promise.all([a.stop(), b.stop()])
}
