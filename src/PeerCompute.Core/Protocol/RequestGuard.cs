using PeerCompute.Core.Identity;

namespace PeerCompute.Core.Protocol;

/// <summary>The provider's checks on a signed request, in the order that reveals least to a stranger.</summary>
public sealed class RequestGuard
{
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromMinutes(5);

    private readonly Func<PeerId, bool> _isTrusted;
    private readonly TimeProvider _clock;
    private readonly NonceCache _nonces;

    public RequestGuard(Func<PeerId, bool> isTrusted, TimeSpan? window = null, TimeProvider? clock = null, int maxNonces = NonceCache.DefaultCapacity)
    {
        _isTrusted = isTrusted;
        _clock = clock ?? TimeProvider.System;
        Window = window ?? DefaultWindow;
        _nonces = new NonceCache(Window, _clock, maxNonces);
    }

    public TimeSpan Window { get; }

    /// <summary>Null when the request may proceed; otherwise the refusal to send back.</summary>
    public ErrorResponse? Check(PeerId remote, ReadOnlySpan<byte> requestFrame, ISignedRequest request, RequestSignature? signature)
    {
        if (!_isTrusted(remote))
            return new ErrorResponse(ErrorCodes.Untrusted, $"Peer {remote} is not in this provider's trust list. Ask the provider to run: peerctl peers add {remote}");
        if (signature is null)
            return new ErrorResponse(ErrorCodes.Unsigned, "The request is not signed.");
        if (!PeerId.TryParse(signature.Signer, out var signer))
            return new ErrorResponse(ErrorCodes.BadSignature, "The signer is not a valid peer id.");
        if (signer != remote)
            return new ErrorResponse(ErrorCodes.SignerMismatch, $"The request is signed by {signer}, but the connection is authenticated as {remote}.");
        if (!RequestSigning.Verify(signer, requestFrame, signature.Signature))
            return new ErrorResponse(ErrorCodes.BadSignature, "The request signature does not verify.");
        var now = _clock.GetUtcNow();
        var sent = DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(request.Timestamp, -62135596800000L, 253402300799999L));
        if ((now - sent).Duration() > Window)
            return new ErrorResponse(ErrorCodes.StaleRequest, $"The request's timestamp {sent:u} is more than {Window.TotalMinutes:0} minutes from the provider's clock ({now:u}); check both clocks.");
        if (!_nonces.TryAdd(signer, request.Nonce, sent))
            return new ErrorResponse(ErrorCodes.Replay, "This request was already received (replayed nonce).");
        return null;
    }
}

/// <summary>Nonces seen within the timestamp window; older ones can be forgotten since their timestamps are refused anyway.</summary>
internal sealed class NonceCache(TimeSpan window, TimeProvider clock, int capacity = NonceCache.DefaultCapacity)
{
    public const int DefaultCapacity = 100_000;

    private readonly Dictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);
    private readonly Queue<(string Key, DateTimeOffset Expires)> _order = new();
    private readonly Lock _lock = new();

    public bool TryAdd(PeerId signer, string nonce, DateTimeOffset sent)
    {
        if (string.IsNullOrEmpty(nonce) || nonce.Length > 64)
            return false;
        string key = signer + "/" + nonce;
        var now = clock.GetUtcNow();
        lock (_lock)
        {
            while (_order.Count > 0 && (_order.Peek().Expires < now || _order.Count >= capacity))
            {
                var (old, _) = _order.Dequeue();
                _seen.Remove(old);
            }
            if (_seen.ContainsKey(key))
                return false;
            // Keep it until its timestamp leaves the window on the far side.
            var expires = (sent > now ? sent : now) + window;
            _seen[key] = expires;
            _order.Enqueue((key, expires));
            return true;
        }
    }
}
