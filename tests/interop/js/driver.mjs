// Starts peer.mjs as a child process and talks to it over its JSON-lines interface.
// Used by bench-js.mjs; the C# tests have their own equivalent (JsPeer.cs).
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

export class PeerProcess {
  static async start (args = [], { readyTimeoutMs = 30_000 } = {}) {
    const p = new PeerProcess(args)
    p.ready = await p.waitFor((e) => e.event === 'ready', readyTimeoutMs)
    p.peerId = p.ready.peerId
    p.addrs = p.ready.addrs
    return p
  }

  constructor (args) {
    this.child = spawn(process.execPath, ['--import', './polyfill.mjs', 'peer.mjs', ...args], {
      cwd: here,
      stdio: ['pipe', 'pipe', 'inherit']
    })
    this.nextId = 1
    this.events = [] // every event line so far (results of our own commands excluded)
    this.pending = new Map()
    this.waiters = new Set()
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)))
    this.exited.then((code) => {
      const err = new Error(`peer.mjs exited with code ${code}`)
      for (const { reject } of this.pending.values()) reject(err)
      for (const w of this.waiters) w.reject(err)
    })
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => this.onLine(line))
  }

  onLine (line) {
    let e
    try {
      e = JSON.parse(line)
    } catch {
      process.stderr.write(`driver: not JSON from peer.mjs: ${line}\n`)
      return
    }
    if (e.event === 'result' && this.pending.has(e.id)) {
      const { resolve, reject } = this.pending.get(e.id)
      this.pending.delete(e.id)
      if (e.ok) resolve(e.result)
      else reject(new Error(`${e.cmd}: ${e.error}`))
      return
    }
    this.events.push(e)
    for (const w of [...this.waiters]) {
      if (w.predicate(e)) {
        this.waiters.delete(w)
        w.resolve(e)
      }
    }
  }

  send (cmd, args = {}) {
    const id = this.nextId++
    const { promise, resolve, reject } = Promise.withResolvers()
    this.pending.set(id, { resolve, reject })
    this.child.stdin.write(JSON.stringify({ ...args, id, cmd }) + '\n')
    return promise
  }

  // The next event matching `predicate`; with `since` (an index into this.events, e.g. 0) an event
  // already seen from that index on matches too.
  waitFor (predicate, timeoutMs = 30_000, { since } = {}) {
    if (since !== undefined) {
      const seen = this.events.slice(since).find(predicate)
      if (seen !== undefined) return Promise.resolve(seen)
    }
    const { promise, resolve, reject } = Promise.withResolvers()
    const w = { predicate, resolve, reject }
    this.waiters.add(w)
    const timer = setTimeout(() => {
      this.waiters.delete(w)
      reject(new Error(`no matching event within ${timeoutMs} ms`))
    }, timeoutMs)
    return promise.finally(() => clearTimeout(timer))
  }

  async stop () {
    this.child.stdin.end()
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    await this.exited
    clearTimeout(timer)
  }
}
