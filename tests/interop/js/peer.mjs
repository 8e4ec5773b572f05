// One controllable js-libp2p node for Peer Compute's interop tests.
// Run: node --import ./polyfill.mjs peer.mjs [options]
// Commands arrive as JSON lines on stdin; every stdout line is one JSON object with an `event` field.
// The protocol and every option are described in README.md beside this file.
import { createHash, randomBytes } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { performance } from 'node:perf_hooks'
import readline from 'node:readline'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { privateKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { dcutr } from '@libp2p/dcutr'
import { identify } from '@libp2p/identify'
import { mdns } from '@libp2p/mdns'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

export const ECHO_PROTOCOL = '/peercompute/echo/1.0.0'
export const BENCH_PROTOCOL = '/peercompute/bench/1.0.0'
const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_BYTES = 32
const BENCH_OP_PUSH = 1 // opener sends N bytes, responder answers with their SHA-256
const BENCH_OP_PULL = 2 // responder sends N bytes followed by their SHA-256
const BENCH_HEADER_BYTES = 9
const DIGEST_BYTES = 32
const WRITE_CHUNK = 256 * 1024
// Handlers accept far more concurrent streams than libp2p's defaults (32 in / 64 out) so the
// echo and stream-rate commands can run hundreds of streams on one connection.
const MAX_STREAMS_PER_PROTOCOL = 4096
const DEFAULT_TIMEOUT_MS = 60_000
const DEFAULT_BENCH_TIMEOUT_MS = 600_000
const MAX_TIMER_MS = 2 ** 31 - 1

// ---------------------------------------------------------------- output

let stdoutClosed = false
process.stdout.on('error', () => { stdoutClosed = true; process.exit(0) })

function emit (obj) {
  if (stdoutClosed) return
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function errorText (err) {
  if (err == null) return 'unknown error'
  const name = err.name && err.name !== 'Error' ? `${err.name}: ` : ''
  return `${name}${err.message ?? String(err)}`
}

// ---------------------------------------------------------------- arguments

function usage (message) {
  process.stderr.write(`peer.mjs: ${message}\n`)
  process.exit(2)
}

function parseArgs (argv) {
  const opts = {
    listen: [],
    key: undefined,
    mdns: false,
    mdnsInterval: undefined,
    mdnsPeerName: undefined,
    monitor: true,
    monitorInterval: undefined,
    monitorTimeout: undefined,
    agent: undefined,
    allow: [],
    inboundThreshold: undefined,
    relayServer: false,
    relayMaxReservations: undefined,
    relayLimitDurationMs: undefined,
    relayLimitDataBytes: undefined,
    relayClient: false,
    listenRelay: [],
    dcutr: false,
    dcutrAllowPrivate: false
  }
  const value = (i, name) => {
    if (i + 1 >= argv.length) usage(`${name} needs a value`)
    return argv[i + 1]
  }
  const int = (s, name) => {
    const n = Number(s)
    if (!Number.isInteger(n) || n < 0) usage(`${name} wants a non-negative integer, got ${s}`)
    return n
  }
  const positive = (s, name) => {
    const n = int(s, name)
    if (n === 0) usage(`${name} must be greater than 0`)
    return n
  }
  // `<relay multiaddr>` (which must name the relay: /p2p/<id>) -> `<relay multiaddr>/p2p-circuit`
  const relayListenAddr = (s) => {
    let ma
    try {
      ma = multiaddr(s)
    } catch (err) {
      usage(`--listen-relay: ${errorText(err)}`)
    }
    if (ma.getComponents().at(-1)?.name !== 'p2p') usage(`--listen-relay wants the relay's address ending /p2p/<relay id>, got ${s}`)
    return ma.encapsulate('/p2p-circuit').toString()
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    switch (a) {
      case '--listen': opts.listen.push(value(i, a)); i++; break
      case '--key': opts.key = value(i, a); i++; break
      case '--mdns': opts.mdns = true; break
      case '--mdns-interval': opts.mdnsInterval = int(value(i, a), a); i++; break
      case '--mdns-peer-name': opts.mdnsPeerName = value(i, a); i++; break
      case '--monitor': opts.monitor = true; break
      case '--no-monitor': opts.monitor = false; break
      case '--monitor-interval': opts.monitorInterval = int(value(i, a), a); i++; break
      case '--monitor-timeout': opts.monitorTimeout = int(value(i, a), a); i++; break
      case '--agent': opts.agent = value(i, a); i++; break
      case '--allow': opts.allow.push(value(i, a)); i++; break
      case '--inbound-threshold': opts.inboundThreshold = int(value(i, a), a); i++; break
      case '--relay-server': opts.relayServer = true; break
      case '--relay-max-reservations': opts.relayMaxReservations = int(value(i, a), a); i++; break
      case '--relay-limit-duration-ms': opts.relayLimitDurationMs = positive(value(i, a), a); i++; break
      case '--relay-limit-data-bytes': opts.relayLimitDataBytes = positive(value(i, a), a); i++; break
      case '--relay-client': opts.relayClient = true; break
      case '--listen-relay': opts.listenRelay.push(relayListenAddr(value(i, a))); opts.relayClient = true; i++; break
      case '--dcutr': opts.dcutr = true; break
      case '--dcutr-allow-private': opts.dcutr = true; opts.dcutrAllowPrivate = true; break
      case '--help': case '-h': usage('see README.md for options'); break
      default: usage(`unknown argument ${a}`)
    }
  }
  if (!opts.relayServer && (opts.relayMaxReservations !== undefined || opts.relayLimitDurationMs !== undefined || opts.relayLimitDataBytes !== undefined)) {
    usage('--relay-max-reservations and --relay-limit-* need --relay-server')
  }
  // A timer longer than this fires at once in Node, so a longer duration limit would cut every circuit.
  if (opts.relayLimitDurationMs !== undefined && opts.relayLimitDurationMs > MAX_TIMER_MS) {
    usage(`--relay-limit-duration-ms must be at most ${MAX_TIMER_MS}`)
  }
  if (opts.listen.length === 0) opts.listen.push('/ip4/127.0.0.1/tcp/0')
  return opts
}

// ---------------------------------------------------------------- stream helpers

// A relayed (/p2p-circuit) multiaddr.
const isRelayed = (ma) => ma.getComponents().some((c) => c.name === 'p2p-circuit')

const hex = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')

// A stream yields Uint8Array or Uint8ArrayList (which iterates its parts).
function * parts (chunk) {
  if (chunk instanceof Uint8Array) {
    if (chunk.byteLength > 0) yield chunk
    return
  }
  for (const b of chunk) if (b.byteLength > 0) yield b
}

// Pulls bytes from a stream with exact-length reads; keeps what it read ahead.
// It listens from construction on: libp2p's own async iterator attaches its listeners only at the
// first next(), so a remote FIN that arrives before then is missed and the read never ends.
class StreamReader {
  constructor (stream) {
    this.stream = stream
    this.pending = []
    this.ended = false
    this.error = undefined
    this.wake = undefined
    this.onMessage = (evt) => {
      for (const b of parts(evt.data)) this.pending.push(b)
      this.notify()
    }
    this.onRemoteCloseWrite = () => {
      this.ended = true
      this.notify()
    }
    this.onClose = (evt) => {
      this.ended = true
      if (evt.error != null) this.error = evt.error
      this.notify()
    }
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('remoteCloseWrite', this.onRemoteCloseWrite)
    stream.addEventListener('close', this.onClose)
    if (stream.remoteWriteStatus === 'closed' || ['closed', 'aborted', 'reset'].includes(stream.status)) this.ended = true
  }

  notify () {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  // The next bytes (at most max), or null at the end of the stream; throws if the stream was reset.
  async next (max = Infinity) {
    // Data already buffered in the stream is dispatched to us shortly after we start listening.
    while (this.pending.length === 0) {
      if (this.error !== undefined) throw this.error
      if (this.ended && this.stream.readBufferLength === 0) return null
      await new Promise((resolve) => { this.wake = resolve })
    }
    const b = this.pending[0]
    if (b.byteLength <= max) return this.pending.shift()
    this.pending[0] = b.subarray(max)
    return b.subarray(0, max)
  }

  async readExactly (n) {
    const out = Buffer.allocUnsafe(n)
    let got = 0
    while (got < n) {
      const b = await this.next(n - got)
      if (b == null) throw new Error(`stream ended after ${got} of ${n} bytes`)
      out.set(b, got)
      got += b.byteLength
    }
    return out
  }

  // Reads to the end of the stream and returns how many bytes were left.
  async drain () {
    let n = 0
    for (let b = await this.next(); b != null; b = await this.next()) n += b.byteLength
    return n
  }
}

// Backpressure. Not stream.onDrain(): in this libp2p version it keeps its first (resolved) promise, so
// after one drain it never waits again and the write buffer grows without bound.
async function write (stream, buf, signal) {
  if (stream.send(buf) || !stream.writableNeedsDrain) return
  await new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    const onDrain = () => { cleanup(); resolve() }
    const onClose = (evt) => { cleanup(); reject(evt.error ?? new Error('stream closed while waiting to write')) }
    const onAbort = () => { cleanup(); reject(signal.reason) }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    signal?.addEventListener('abort', onAbort)
  })
}

// Bench payload: a random block repeated, with the chunk number in the first 8 bytes of each
// chunk so lost, repeated or reordered chunks change the hash. Fresh buffer per chunk because
// stream.send keeps a reference until the bytes are written.
const PAYLOAD_BLOCK = randomBytes(WRITE_CHUNK)

function payloadChunk (index, size) {
  const c = Buffer.allocUnsafe(size)
  PAYLOAD_BLOCK.copy(c, 0, 0, size)
  if (size >= 8) c.writeBigUInt64BE(BigInt(index), 0)
  return c
}

// Sends `total` payload bytes, hashing them as they go; returns the SHA-256.
async function sendPayload (stream, total, signal) {
  const hash = createHash('sha256')
  let sent = 0
  for (let i = 0; sent < total; i++) {
    const size = Math.min(WRITE_CHUNK, total - sent)
    const c = payloadChunk(i, size)
    hash.update(c)
    await write(stream, c, signal)
    sent += size
  }
  return hash.digest()
}

// Reads exactly `total` bytes and returns their SHA-256.
async function receivePayload (reader, total) {
  const hash = createHash('sha256')
  let got = 0
  while (got < total) {
    const b = await reader.next(total - got)
    if (b == null) throw new Error(`stream ended after ${got} of ${total} payload bytes`)
    hash.update(b)
    got += b.byteLength
  }
  return hash.digest()
}

function benchHeader (op, n) {
  const h = Buffer.alloc(BENCH_HEADER_BYTES)
  h[0] = op
  h.writeBigUInt64BE(BigInt(n), 1)
  return h
}

function rates (bytes, ms) {
  const s = ms / 1000
  return {
    ms: Math.round(ms * 10) / 10,
    MBps: Math.round((bytes / 1e6 / s) * 10) / 10,
    MiBps: Math.round((bytes / 1048576 / s) * 10) / 10
  }
}

// ---------------------------------------------------------------- protocol handlers

// Echo: every byte goes back; when the remote half-closes, we half-close after the last byte.
async function handleEcho (stream) {
  try {
    const input = new StreamReader(stream)
    for (let b = await input.next(); b != null; b = await input.next()) await write(stream, b)
    await stream.close()
  } catch (err) {
    stream.abort(err)
  }
}

async function handleBench (stream, connection) {
  const t0 = performance.now()
  try {
    const reader = new StreamReader(stream)
    const header = await reader.readExactly(BENCH_HEADER_BYTES)
    const op = header[0]
    const n = header.readBigUInt64BE(1)
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`bench size ${n} too large`)
    const total = Number(n)
    let digest
    if (op === BENCH_OP_PUSH) {
      digest = await receivePayload(reader, total)
      await write(stream, digest)
      await stream.close()
    } else if (op === BENCH_OP_PULL) {
      digest = await sendPayload(stream, total)
      await write(stream, digest)
      await stream.close()
    } else {
      throw new Error(`unknown bench op ${op}`)
    }
    emit({
      event: 'bench:served',
      peer: connection.remotePeer.toString(),
      op: op === BENCH_OP_PUSH ? 'push' : 'pull',
      bytes: total,
      sha256: hex(digest),
      ...rates(total, performance.now() - t0)
    })
  } catch (err) {
    emit({ event: 'bench:error', peer: connection.remotePeer.toString(), error: errorText(err) })
    stream.abort(err)
  }
}

// ---------------------------------------------------------------- the node

const opts = parseArgs(process.argv.slice(2))

const peerDiscovery = []
if (opts.mdns) {
  // Wrap the module to report what mDNS itself found (libp2p's own peer:discovery also fires
  // for peers learned by dialing, which would blur what the tests check).
  const factory = mdns({ interval: opts.mdnsInterval, peerName: opts.mdnsPeerName })
  peerDiscovery.push((components) => {
    const discovery = factory(components)
    discovery.addEventListener('peer', (evt) => {
      emit({
        event: 'discovered',
        source: 'mdns',
        peer: evt.detail.id.toString(),
        addrs: evt.detail.multiaddrs.map(String)
      })
    })
    return discovery
  })
}

const connectionManager = {}
if (opts.allow.length > 0) connectionManager.allow = opts.allow
if (opts.inboundThreshold !== undefined) connectionManager.inboundConnectionThreshold = opts.inboundThreshold

const transports = [tcp()]
// Dials /p2p-circuit addresses, answers the stop protocol, and listens on `<relay>/p2p-circuit` (a reservation).
if (opts.relayClient) transports.push(circuitRelayTransport())

const services = {
  // Identify runs on every new connection from our own listener below, so failures are reported.
  // It (and ping) already run over limited connections by default; said here because relayed tests rely on it.
  identify: identify({ runOnConnectionOpen: false, runOnLimitedConnection: true }),
  // ping allows one outbound stream per connection by default, which our ping command and the
  // connection monitor (same protocol) can exceed together when the machine is slow. Inbound keeps
  // js's stock limit (2 per connection) so a peer that opens more is caught as against any js node.
  ping: ping({ maxOutboundStreams: 32, runOnLimitedConnection: true })
}
const relayLimited = opts.relayLimitDurationMs !== undefined || opts.relayLimitDataBytes !== undefined
if (opts.relayServer) {
  services.relay = circuitRelayServer({
    reservations: {
      maxReservations: opts.relayMaxReservations,
      // js's stock relay limits each circuit to 2 min and 128 KiB; ours are unlimited unless asked.
      applyDefaultLimit: relayLimited,
      defaultDurationLimit: opts.relayLimitDurationMs,
      defaultDataLimit: opts.relayLimitDataBytes === undefined ? undefined : BigInt(opts.relayLimitDataBytes)
    }
  })
}
if (opts.dcutr) services.dcutr = dcutr()

// Starting fails when a listen address cannot be had, e.g. a --listen-relay relay refusing or unreachable:
// say so as a JSON line (instead of only a stack trace) and exit 1.
const node = await createLibp2p({
  privateKey: opts.key ? privateKeyFromProtobuf(Buffer.from(opts.key, 'hex')) : undefined,
  nodeInfo: opts.agent ? { userAgent: opts.agent } : undefined,
  addresses: { listen: [...opts.listen, ...opts.listenRelay] },
  transports,
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  peerDiscovery,
  connectionManager,
  // The monitor's ping timeout adapts to measured RTTs but is at least 5 s; a ping queued behind bulk
  // data on a busy machine can exceed that, and the monitor then aborts the whole connection.
  connectionMonitor: {
    enabled: opts.monitor,
    pingInterval: opts.monitorInterval,
    pingTimeout: opts.monitorTimeout === undefined
      ? undefined
      : { minTimeout: opts.monitorTimeout, maxTimeout: Math.max(opts.monitorTimeout, 60_000) }
  },
  services
}).catch((err) => {
  process.stderr.write(`peer.mjs: start failed: ${err?.stack ?? err}\n`)
  emit({ event: 'error', error: `start failed: ${errorText(err)}` })
  process.exit(1)
})

if (opts.dcutrAllowPrivate) {
  // js's DCUtR drops every private address (127/8, 10/8, 192.168/16, ... and the documentation ranges) from the
  // CONNECT messages it receives, so it never punches on loopback. For tests only: keep those addresses too,
  // still without relayed ones and only where a transport can dial them.
  const svc = node.services.dcutr
  if (typeof svc?.getDialableMultiaddrs !== 'function' || svc.transportManager == null) {
    throw new Error('@libp2p/dcutr changed shape; review --dcutr-allow-private')
  }
  svc.getDialableMultiaddrs = (addrs) => {
    const out = []
    for (const bytes of addrs) {
      if (bytes == null || bytes.length === 0) continue
      try {
        const ma = multiaddr(bytes)
        if (!isRelayed(ma) && svc.transportManager.dialTransportForMultiaddr(ma) != null) out.push(ma)
      } catch {}
    }
    return out
  }
}

if (opts.relayServer && relayLimited) {
  // With applyDefaultLimit the store falls back to js's stock value (2 min or 128 KiB) for the limit that
  // was not given; drop it so a circuit is limited only by what was asked (an absent Limit field = none).
  const store = node.services.relay.reservationStore
  if (store == null || !('defaultDurationLimit' in store) || !('defaultDataLimit' in store)) {
    throw new Error('circuit-relay-v2 reservation store changed shape; review the relay limit options')
  }
  if (opts.relayLimitDurationMs === undefined) store.defaultDurationLimit = undefined
  if (opts.relayLimitDataBytes === undefined) store.defaultDataLimit = undefined
}

const handlerOptions = {
  maxInboundStreams: MAX_STREAMS_PER_PROTOCOL,
  maxOutboundStreams: MAX_STREAMS_PER_PROTOCOL,
  runOnLimitedConnection: true
}
await node.handle(ECHO_PROTOCOL, handleEcho, handlerOptions)
await node.handle(BENCH_PROTOCOL, handleBench, handlerOptions)

function describeConnection (c) {
  return {
    peer: c.remotePeer.toString(),
    connectionId: c.id,
    remoteAddr: c.remoteAddr.toString(),
    direction: c.direction,
    encryption: c.encryption,
    multiplexer: c.multiplexer,
    status: c.status,
    // relayed (a /p2p-circuit address) or direct
    relayed: isRelayed(c.remoteAddr),
    // the relay set limits on this connection: only protocols that allow it run over it
    limited: c.limits != null,
    // what is left of those limits, as js tracks it: bytes (both directions together), seconds
    limits: c.limits == null
      ? undefined
      : {
          bytes: c.limits.bytes === undefined ? undefined : Number(c.limits.bytes),
          seconds: c.limits.seconds
        }
  }
}

function describeIdentify (r) {
  return {
    peer: r.peerId.toString(),
    protocols: r.protocols,
    listenAddrs: r.listenAddrs.map(String),
    agentVersion: r.agentVersion,
    protocolVersion: r.protocolVersion,
    observedAddr: r.observedAddr?.toString(),
    publicKey: r.publicKey ? hex(r.publicKey) : undefined,
    signedPeerRecord: r.signedPeerRecord != null
  }
}

const lastIdentify = new Map() // peerId string -> describeIdentify result

node.addEventListener('connection:open', (evt) => {
  const c = evt.detail
  emit({ event: 'connection:open', ...describeConnection(c) })
  // The connection's own close event carries the reason (libp2p's connection:close does not).
  c.addEventListener('close', (e) => {
    emit({ event: 'connection:close', ...describeConnection(c), closedLocally: e.local === true, error: e.error ? errorText(e.error) : undefined })
  }, { once: true })
  node.services.identify.identify(c).catch((err) => {
    emit({ event: 'identify:error', peer: c.remotePeer.toString(), connectionId: c.id, error: errorText(err) })
  })
})
// Relayed addresses we listen on (one per relay reservation): `reserved` each time the set changes
// and is not empty, `unreserved` when the last one goes (the relay connection closed or refused a refresh).
let relayedAddrs = []
let readyEmitted = false // `ready` is always the first line
function checkRelayedAddrs () {
  if (!readyEmitted) return
  const now = node.getMultiaddrs().filter(isRelayed).map(String).sort()
  if (now.length === relayedAddrs.length && now.every((a, i) => a === relayedAddrs[i])) return
  relayedAddrs = now
  emit(now.length > 0 ? { event: 'reserved', addrs: now } : { event: 'unreserved', addrs: [] })
}
if (opts.relayClient) node.addEventListener('self:peer:update', checkRelayedAddrs)

node.addEventListener('peer:identify', (evt) => {
  const d = describeIdentify(evt.detail)
  lastIdentify.set(d.peer, d)
  emit({ event: 'identify', ...d })
})

// ---------------------------------------------------------------- commands

function target (p) {
  if (typeof p !== 'string' || p.length === 0) throw new Error('peer must be a PeerId or a multiaddr')
  return p.startsWith('/') ? multiaddr(p) : peerIdFromString(p)
}

// An open connection to `p` (PeerId or multiaddr), dialing when there is none.
async function connectionTo (p, signal) {
  const t = target(p)
  if (!p.startsWith('/')) {
    // A direct connection first (one that hole punching opened beside a relayed one), then an unlimited one.
    const rank = (c) => (isRelayed(c.remoteAddr) ? 2 : 0) + (c.limits != null ? 1 : 0)
    const open = node.getConnections(t).filter((c) => c.status === 'open').sort((a, b) => rank(a) - rank(b))
    if (open.length > 0) return open[0]
  }
  return node.dial(t, { signal, runOnLimitedConnection: true })
}

// One ping on this connection. js's ping service would dial again rather than use a limited connection.
async function pingOver (connection, signal) {
  const stream = await connection.newStream(PING_PROTOCOL, { signal, runOnLimitedConnection: true })
  try {
    const reader = new StreamReader(stream)
    const data = randomBytes(PING_BYTES)
    const t0 = performance.now()
    await write(stream, data, signal)
    const back = await reader.readExactly(PING_BYTES)
    const rtt = performance.now() - t0
    if (!back.equals(data)) throw new Error('ping answered with different bytes')
    await stream.close({ signal })
    return Math.round(rtt * 1000) / 1000
  } catch (err) {
    stream.abort(err)
    throw err
  }
}

async function echoOnce (connection, bytes, concurrency, signal) {
  const stream = await connection.newStream(ECHO_PROTOCOL, { signal, maxOutboundStreams: Math.max(concurrency, 64), runOnLimitedConnection: true })
  try {
    const data = randomBytes(bytes)
    const input = new StreamReader(stream)
    const writer = (async () => {
      for (let off = 0; off < bytes; off += WRITE_CHUNK) {
        await write(stream, data.subarray(off, Math.min(bytes, off + WRITE_CHUNK)), signal)
      }
      await stream.close({ signal })
    })()
    const reader = (async () => {
      const got = Buffer.allocUnsafe(bytes)
      let n = 0
      for (let b = await input.next(); b != null; b = await input.next()) {
        if (n + b.byteLength > bytes) throw new Error(`echo returned more than the ${bytes} bytes sent`)
        got.set(b, n)
        n += b.byteLength
      }
      if (n !== bytes) throw new Error(`echo returned ${n} of ${bytes} bytes`)
      if (!got.equals(data)) throw new Error('echo returned different bytes')
    })()
    await Promise.all([writer, reader])
  } catch (err) {
    stream.abort(err)
    throw err
  }
}

// Runs `count` tasks with at most `concurrency` at once; returns the failures.
async function runPool (count, concurrency, task) {
  const failures = []
  let nextIndex = 0
  const worker = async () => {
    while (nextIndex < count) {
      const i = nextIndex++
      try {
        await task(i)
      } catch (err) {
        failures.push({ index: i, error: errorText(err) })
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return failures
}

function positiveInt (v, name, fallback) {
  if (v === undefined || v === null) {
    if (fallback === undefined) throw new Error(`${name} is required`)
    return fallback
  }
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer`)
  return v
}

const commands = {
  async dial (msg, signal) {
    if (typeof msg.addr !== 'string') throw new Error('addr is required')
    const c = await node.dial(multiaddr(msg.addr), { signal, runOnLimitedConnection: true })
    return describeConnection(c)
  },

  async hangup (msg, signal) {
    await node.hangUp(target(msg.peer), { signal })
    return {}
  },

  async connections () {
    return { connections: node.getConnections().map(describeConnection) }
  },

  async identify (msg, signal) {
    const t = target(msg.peer)
    if (msg.cached === true) {
      const d = lastIdentify.get(t.toString())
      if (d == null) throw new Error(`no identify result for ${t} yet`)
      return d
    }
    const c = await connectionTo(msg.peer, signal)
    return describeIdentify(await node.services.identify.identify(c, { signal }))
  },

  async ping (msg, signal) {
    const count = positiveInt(msg.count, 'count', 1)
    const t = target(msg.peer)
    const rtts = []
    // On a limited (relayed) connection js's ping service would dial a new connection: ping on this one.
    const c = msg.peer.startsWith('/') ? undefined : await connectionTo(msg.peer, signal)
    for (let i = 0; i < count; i++) {
      rtts.push(c?.limits != null ? await pingOver(c, signal) : await node.services.ping.ping(t, { signal }))
    }
    return { rtt: rtts[rtts.length - 1], rtts }
  },

  async echo (msg, signal) {
    const streams = positiveInt(msg.streams, 'streams', 1)
    const bytesPerStream = positiveInt(msg.bytesPerStream, 'bytesPerStream', 1024)
    const concurrency = positiveInt(msg.concurrency, 'concurrency', streams)
    const c = await connectionTo(msg.peer, signal)
    const t0 = performance.now()
    const failures = await runPool(streams, Math.max(1, concurrency), () => echoOnce(c, bytesPerStream, concurrency, signal))
    return {
      ok: failures.length === 0,
      streams,
      bytesPerStream,
      failures,
      ms: Math.round((performance.now() - t0) * 10) / 10
    }
  },

  // Stream open+close rate: each stream negotiates the echo protocol, sends `bytes` (default 1),
  // half-closes, reads the echo to the end.
  async streams (msg, signal) {
    const count = positiveInt(msg.count, 'count', 1000)
    const concurrency = Math.max(1, positiveInt(msg.concurrency, 'concurrency', 1))
    const bytes = positiveInt(msg.bytes, 'bytes', 1)
    const c = await connectionTo(msg.peer, signal)
    const t0 = performance.now()
    const failures = await runPool(count, concurrency, () => echoOnce(c, bytes, concurrency, signal))
    const ms = performance.now() - t0
    return {
      ok: failures.length === 0,
      count,
      concurrency,
      bytes,
      failures: failures.slice(0, 10),
      failureCount: failures.length,
      ms: Math.round(ms * 10) / 10,
      streamsPerSec: Math.round(count / (ms / 1000))
    }
  },

  // Push N bytes to the remote's bench protocol; the remote answers with their SHA-256.
  async send (msg, signal) {
    const total = positiveInt(msg.bytes, 'bytes')
    const c = await connectionTo(msg.peer, signal)
    const stream = await c.newStream(BENCH_PROTOCOL, { signal, runOnLimitedConnection: true })
    try {
      const reader = new StreamReader(stream)
      const t0 = performance.now()
      await write(stream, benchHeader(BENCH_OP_PUSH, total), signal)
      const local = await sendPayload(stream, total, signal)
      await stream.close({ signal })
      const remote = await reader.readExactly(DIGEST_BYTES)
      const ms = performance.now() - t0
      await reader.drain()
      return { bytes: total, sha256: hex(local), remoteSha256: hex(remote), match: local.equals(remote), ...rates(total, ms) }
    } catch (err) {
      stream.abort(err)
      throw err
    }
  },

  // Pull N bytes from the remote's bench protocol, hash them, compare with the remote's trailer.
  async receive (msg, signal) {
    const total = positiveInt(msg.bytes, 'bytes')
    const c = await connectionTo(msg.peer, signal)
    const stream = await c.newStream(BENCH_PROTOCOL, { signal, runOnLimitedConnection: true })
    try {
      const reader = new StreamReader(stream)
      const t0 = performance.now()
      await write(stream, benchHeader(BENCH_OP_PULL, total), signal)
      await stream.close({ signal })
      const local = await receivePayload(reader, total)
      const remote = await reader.readExactly(DIGEST_BYTES)
      const ms = performance.now() - t0
      const extra = await reader.drain()
      if (extra !== 0) throw new Error(`${extra} bytes after the digest`)
      return { bytes: total, sha256: hex(local), remoteSha256: hex(remote), match: local.equals(remote), ...rates(total, ms) }
    } catch (err) {
      stream.abort(err)
      throw err
    }
  },

  // This process's CPU time and memory: lets a benchmark on a shared machine report CPU per byte,
  // which other load skews far less than wall-clock rates.
  // Relay server only: the reservations it holds.
  async reservations () {
    const relay = node.services.relay
    if (relay == null) throw new Error('not a relay (start with --relay-server)')
    const list = []
    for (const [peer, r] of relay.reservations.entries()) {
      list.push({
        peer: peer.toString(),
        addr: r.addr.toString(),
        expiry: r.expiry.toISOString(),
        limit: r.limit == null
          ? undefined
          : {
              durationMs: r.limit.duration,
              dataBytes: r.limit.data === undefined ? undefined : Number(r.limit.data)
            }
      })
    }
    return { reservations: list }
  },

  async stats () {
    const cpu = process.cpuUsage()
    const mem = process.memoryUsage()
    return { cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed }
  },

  async stop () {
    setImmediate(() => shutdown('stop command'))
    return {}
  }
}

const BENCH_COMMANDS = new Set(['send', 'receive', 'streams', 'echo'])

async function run (msg) {
  const id = msg.id ?? null
  const fn = typeof msg.cmd === 'string' && Object.hasOwn(commands, msg.cmd) ? commands[msg.cmd] : undefined
  if (fn == null) {
    emit({ event: 'result', id, cmd: msg.cmd, ok: false, error: `unknown command ${JSON.stringify(msg.cmd)}` })
    return
  }
  const timeoutMs = msg.timeoutMs ?? (BENCH_COMMANDS.has(msg.cmd) ? DEFAULT_BENCH_TIMEOUT_MS : DEFAULT_TIMEOUT_MS)
  const signal = AbortSignal.timeout(timeoutMs)
  // Every concurrent stream of one command listens on this signal.
  setMaxListeners(Infinity, signal)
  try {
    const result = await fn(msg, signal)
    emit({ event: 'result', id, cmd: msg.cmd, ok: true, result })
  } catch (err) {
    emit({ event: 'result', id, cmd: msg.cmd, ok: false, error: errorText(err) })
  }
}

let stopping = false
async function shutdown (reason) {
  if (stopping) return
  stopping = true
  const hardStop = setTimeout(() => process.exit(1), 5000)
  hardStop.unref()
  try {
    await node.stop()
  } catch (err) {
    process.stderr.write(`peer.mjs: stop failed: ${errorText(err)}\n`)
  }
  emit({ event: 'stopped', reason })
  process.exit(0)
}

process.on('unhandledRejection', (err) => {
  process.stderr.write(`peer.mjs: unhandled rejection: ${err?.stack ?? err}\n`)
  emit({ event: 'error', error: errorText(err) })
})
process.on('uncaughtException', (err) => {
  process.stderr.write(`peer.mjs: uncaught exception: ${err?.stack ?? err}\n`)
  emit({ event: 'error', error: errorText(err) })
})
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))

const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
input.on('line', (line) => {
  if (line.trim() === '') return
  let msg
  try {
    msg = JSON.parse(line)
  } catch (err) {
    emit({ event: 'result', id: null, ok: false, error: `bad JSON: ${errorText(err)}` })
    return
  }
  if (msg == null || typeof msg !== 'object') {
    emit({ event: 'result', id: null, ok: false, error: 'a command must be a JSON object' })
    return
  }
  run(msg)
})
// The test process owns us: when it goes away (stdin EOF) we go too.
input.on('close', () => shutdown('stdin closed'))

emit({
  event: 'ready',
  peerId: node.peerId.toString(),
  addrs: node.getMultiaddrs().map(String),
  protocols: node.getProtocols(),
  publicKey: hex(publicKeyToProtobuf(node.peerId.publicKey))
})
readyEmitted = true
// A reservation made while starting (--listen-relay) is reported right after ready.
if (opts.relayClient) checkRelayedAddrs()
