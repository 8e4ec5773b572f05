using PeerCompute.Core.Identity;
using PeerCompute.Core.Limits;

namespace PeerCompute.Net.Host;

/// <summary>
/// Who may hold the host's inbound connections. A connection takes a handshake slot when it is accepted (at most
/// <see cref="Libp2pHostOptions.MaxPendingInboundConnections"/>, and <see cref="Libp2pHostOptions.MaxPendingInboundPerAddress"/>
/// from one address); once Noise has proven the peer's identity, the slot turns into a trusted one (always: the
/// handshake slot was already counted in the total) or an untrusted one (within <see cref="Libp2pHostOptions.MaxUntrustedConnections"/>
/// and <see cref="Libp2pHostOptions.MaxUntrustedConnectionsPerAddress"/>). Strangers together can therefore never hold more
/// than the handshake and untrusted slots, and <see cref="Libp2pHostOptions.ReservedForTrusted"/> stays for trusted peers.
/// When every handshake slot is taken, a new connection takes the place of the oldest handshake in progress (it is
/// cancelled) instead of being refused: a handshake takes milliseconds, so connections that hold their slot without
/// finishing cannot keep a trusted peer out, however many addresses they come from; to keep one out, strangers must
/// open new connections faster than it handshakes.
/// </summary>
internal sealed class InboundAdmission
{
    private readonly Libp2pHostOptions _options;
    private readonly Func<PeerId, bool> _isTrusted;
    private readonly InFlightLimiter _pendingPerAddress;
    private readonly InFlightLimiter _untrustedPerAddress;
    private readonly Lock _lock = new();
    private readonly LinkedList<Slot> _handshakes = new();
    private int _pending;
    private int _trusted;
    private int _untrusted;

    public InboundAdmission(Libp2pHostOptions options, Func<PeerId, bool> isTrusted)
    {
        _options = options;
        _isTrusted = isTrusted;
        _pendingPerAddress = new InFlightLimiter(options.MaxPendingInboundPerAddress);
        _untrustedPerAddress = new InFlightLimiter(options.MaxUntrustedConnectionsPerAddress);
    }

    /// <summary>Connections counted now: (in their handshake, trusted, untrusted).</summary>
    public (int Pending, int Trusted, int Untrusted) Counts
    {
        get
        {
            lock (_lock)
                return (_pending, _trusted, _untrusted);
        }
    }

    /// <summary>
    /// A handshake slot for a connection just accepted from <paramref name="address"/> (an <see cref="AddressKey"/>); null when
    /// there is none. When the handshake slots (or all connections) are full, the oldest handshake in progress is cancelled
    /// to make room; only the per-address limit, and a host full of finished connections, refuse.
    /// </summary>
    public Slot? TryAccept(string address)
    {
        Slot? evicted = null;
        Slot slot;
        lock (_lock)
        {
            bool full = _pending + _trusted + _untrusted >= _options.MaxInboundConnections || _pending >= _options.MaxPendingInboundConnections;
            if ((full && _handshakes.Count == 0) || !_pendingPerAddress.TryEnter(address))
                return null;
            if (full)
            {
                evicted = _handshakes.First!.Value;
                evicted.ReleaseLocked();
            }
            _pending++;
            slot = new Slot(this, address);
            slot.Node = _handshakes.AddLast(slot);
        }
        evicted?.Evict();
        return slot;
    }

    /// <summary>One inbound connection's place: a handshake slot, then a trusted or untrusted one; disposing frees it.</summary>
    internal sealed class Slot(InboundAdmission owner, string address) : IDisposable
    {
        private enum Stage { Handshake, Trusted, Untrusted, Released }

        private readonly CancellationTokenSource _evicted = new();
        private Stage _stage = Stage.Handshake;

        internal LinkedListNode<Slot>? Node { get; set; }

        public string Address => address;

        /// <summary>Cancelled when a newer connection took this handshake's slot.</summary>
        public CancellationToken Evicted => _evicted.Token;

        /// <summary>Frees the handshake slot; under the owner's lock.</summary>
        internal void ReleaseLocked()
        {
            owner._pending--;
            owner._pendingPerAddress.Exit(address);
            owner._handshakes.Remove(Node!);
            _stage = Stage.Released;
        }

        /// <summary>Ends the handshake that lost its slot (outside the owner's lock: cancellation runs callbacks).</summary>
        internal void Evict()
        {
            try
            {
                _evicted.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public bool IsTrusted => _stage == Stage.Trusted;

        /// <summary>
        /// Turns the handshake slot into a connection slot for <paramref name="peer"/>; returns why not (and frees the slot)
        /// when the peer is untrusted and the untrusted limits are reached.
        /// </summary>
        public string? Admit(PeerId peer)
        {
            bool trusted = owner._isTrusted(peer);
            var options = owner._options;
            lock (owner._lock)
            {
                if (_stage == Stage.Released)
                    return "its handshake slot went to a newer connection (every handshake slot was taken)";
                if (_stage != Stage.Handshake)
                    throw new InvalidOperationException("this connection was admitted already");
                ReleaseLocked();
                if (trusted)
                {
                    owner._trusted++;
                    _stage = Stage.Trusted;
                    return null;
                }
                string? refusal = owner._untrusted >= options.MaxUntrustedConnections
                    ? $"{options.MaxUntrustedConnections} connections of untrusted peers are open already (the limit)"
                    : !owner._untrustedPerAddress.TryEnter(address)
                        ? $"{options.MaxUntrustedConnectionsPerAddress} connections of untrusted peers from {address} are open already (the limit per address)"
                        : null;
                if (refusal is not null)
                {
                    _stage = Stage.Released;
                    return refusal;
                }
                owner._untrusted++;
                _stage = Stage.Untrusted;
                return null;
            }
        }

        public void Dispose()
        {
            lock (owner._lock)
            {
                switch (_stage)
                {
                    case Stage.Handshake:
                        ReleaseLocked();
                        break;
                    case Stage.Trusted:
                        owner._trusted--;
                        break;
                    case Stage.Untrusted:
                        owner._untrusted--;
                        owner._untrustedPerAddress.Exit(address);
                        break;
                }
                _stage = Stage.Released;
            }
            _evicted.Dispose();
        }
    }
}
