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
/// </summary>
internal sealed class InboundAdmission
{
    private readonly Libp2pHostOptions _options;
    private readonly Func<PeerId, bool> _isTrusted;
    private readonly InFlightLimiter _pendingPerAddress;
    private readonly InFlightLimiter _untrustedPerAddress;
    private readonly Lock _lock = new();
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

    /// <summary>A handshake slot for a connection just accepted from <paramref name="address"/> (an <see cref="AddressKey"/>); null when there is none.</summary>
    public Slot? TryAccept(string address)
    {
        lock (_lock)
        {
            if (_pending + _trusted + _untrusted >= _options.MaxInboundConnections || _pending >= _options.MaxPendingInboundConnections)
                return null;
            if (!_pendingPerAddress.TryEnter(address))
                return null;
            _pending++;
            return new Slot(this, address);
        }
    }

    /// <summary>One inbound connection's place: a handshake slot, then a trusted or untrusted one; disposing frees it.</summary>
    internal sealed class Slot(InboundAdmission owner, string address) : IDisposable
    {
        private enum Stage { Handshake, Trusted, Untrusted, Released }

        private Stage _stage = Stage.Handshake;

        public string Address => address;

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
                if (_stage != Stage.Handshake)
                    throw new InvalidOperationException("this connection was admitted already");
                owner._pending--;
                owner._pendingPerAddress.Exit(address);
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
                        owner._pending--;
                        owner._pendingPerAddress.Exit(address);
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
        }
    }
}
