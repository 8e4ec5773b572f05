// js-libp2p 3 calls Promise.withResolvers, which Node only has from v22.
// Load this first on Node 20: node --import ./polyfill.mjs peer.mjs
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve
      let reject
      const promise = new this((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    }
  })
}
