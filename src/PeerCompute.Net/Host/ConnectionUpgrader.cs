using PeerCompute.Core.Identity;
using PeerCompute.Net.Multistream;
using PeerCompute.Net.Noise;
using PeerCompute.Mux;

namespace PeerCompute.Net.Host;

/// <summary>Turns a raw byte stream into an authenticated, multiplexed session: multistream → Noise → yamux.</summary>
internal static class ConnectionUpgrader
{
    public const string YamuxProtocol = "/yamux/1.0.0";
    private static readonly string[] Muxers = [YamuxProtocol];

    public static async Task<(YamuxSession Session, PeerId RemotePeer)> UpgradeOutboundAsync(Stream raw, PeerIdentity identity,
        PeerId? expectedRemote, YamuxOptions options, CancellationToken cancellationToken)
    {
        await MultistreamSelect.SelectAsync(raw, NoiseSecurity.ProtocolId, cancellationToken).ConfigureAwait(false);
        var secured = await NoiseSecurity.SecureOutboundAsync(raw, identity, expectedRemote, Muxers, cancellationToken).ConfigureAwait(false);
        try
        {
            if (!InlinedMuxer(secured))
                await MultistreamSelect.SelectAsync(secured.Stream, YamuxProtocol, cancellationToken).ConfigureAwait(false);
            return (YamuxSession.Start(secured.Stream, isClient: true, options), secured.RemotePeer);
        }
        catch
        {
            await secured.Stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <param name="admit">
    /// Asked once Noise has proven the peer's identity, before the muxer starts: null lets it in, a text refuses it
    /// (the connection is closed and a <see cref="Libp2pProtocolException"/> carries the text).
    /// </param>
    public static async Task<(YamuxSession Session, PeerId RemotePeer)> UpgradeInboundAsync(Stream raw, PeerIdentity identity,
        YamuxOptions options, Func<PeerId, string?> admit, CancellationToken cancellationToken)
    {
        var security = await MultistreamSelect.RespondAsync(raw, [NoiseSecurity.ProtocolId], cancellationToken).ConfigureAwait(false)
            ?? throw new Libp2pProtocolException("the peer closed the connection before choosing a security protocol");
        _ = security;
        var secured = await NoiseSecurity.SecureInboundAsync(raw, identity, Muxers, cancellationToken).ConfigureAwait(false);
        try
        {
            if (admit(secured.RemotePeer) is { } refusal)
                throw new Libp2pProtocolException($"refused {secured.RemotePeer}: {refusal}");
            if (!InlinedMuxer(secured))
            {
                _ = await MultistreamSelect.RespondAsync(secured.Stream, Muxers, cancellationToken).ConfigureAwait(false)
                    ?? throw new Libp2pProtocolException("the peer closed the connection before choosing a muxer");
            }
            return (YamuxSession.Start(secured.Stream, isClient: false, options), secured.RemotePeer);
        }
        catch
        {
            await secured.Stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Both sides listed muxers in the handshake: yamux starts directly (or there is no common muxer).</summary>
    private static bool InlinedMuxer(NoiseConnection secured)
    {
        if (secured.RemoteStreamMuxers.Count == 0)
            return false;
        if (!secured.RemoteStreamMuxers.Contains(YamuxProtocol))
            throw new Libp2pProtocolException($"no common stream muxer: the peer offers {string.Join(", ", secured.RemoteStreamMuxers)}");
        return true;
    }
}
