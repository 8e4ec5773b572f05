using System.Security.Cryptography;
using PeerCompute.Core.Identity;
using PeerCompute.Tunnel.Hostnames;

namespace PeerCompute.Tunnel.Protocol;

/// <summary>
/// The tunnel handshake for both roles: its constants, its message sequence and its version rule. It runs inside
/// TLS 1.3 (ALPN <see cref="Alpn"/>), after the TLS handshake and before yamux; each message is one
/// <see cref="TunnelFrame"/> of at most <see cref="MaxHandshakePayload"/> bytes.
/// <code>
///   provider -> gateway  ClientHello  "PCTUNNEL" | version u8 | client nonce [32]
///   gateway -> provider  Challenge    version u8 | server nonce [32] | domain (u8 len) | https port u16
///   provider -> gateway  Auth         public key protobuf (u8 len) | Ed25519 signature [64] over AuthTranscript
///   gateway -> provider  Welcome      tag (u8 len) | max routes u16        or  Refused  code u8 | reason (u16 len)
/// </code>
/// Versions (see <see cref="TunnelVersions"/>): the provider's hello carries the highest version it speaks; the
/// gateway's challenge carries the version both then speak, the lower of the two highest; a side whose lowest version
/// is above that refuses, saying which versions it speaks. A later version may add fields at the end of a message:
/// every parser reads the fields it knows and ignores the bytes after them, so an older peer still understands it.
/// </summary>
internal static class TunnelHandshake
{
    /// <summary>ALPN protocol id of the tunnel.</summary>
    public const string Alpn = "peercompute-tunnel/1";

    public const int NonceLength = 32;

    /// <summary>Handshake messages are small; a longer announced length is refused before it is read.</summary>
    public const int MaxHandshakePayload = 4096;

    /// <summary>Control-stream messages (SetRoutes, RoutesResult) may use the whole frame.</summary>
    public const int MaxControlPayload = TunnelFrame.MaxPayload;

    /// <summary>The first bytes of the hello: proves the peer speaks this protocol at all.</summary>
    public static ReadOnlySpan<byte> Magic => "PCTUNNEL"u8;

    /// <summary>
    /// The versions this build speaks. Version 2 adds the gateway's relay offer to the welcome; version 3 the routes'
    /// access rules (private and basic URLs) to SetRoutes, which such a gateway enforces; version 4 the routes' custom domains,
    /// which such a gateway verifies and serves; version 5 the custom domains a provider gives up (SetRoutes) and the
    /// QueryDomains exchange, in which the gateway says where each of the provider's domains stands.
    /// </summary>
    public static TunnelVersions Versions { get; } = new(Minimum: 1, Maximum: 5);

    /// <summary>The first version whose welcome may carry a <see cref="RelayOffer"/>.</summary>
    public const byte RelayOfferVersion = 2;

    /// <summary>The first version whose gateway enforces the access rules that SetRoutes carries.</summary>
    public const byte AccessControlVersion = 3;

    /// <summary>The first version whose gateway verifies and serves the custom domains that SetRoutes carries.</summary>
    public const byte CustomDomainVersion = 4;

    /// <summary>The first version whose gateway releases the domains SetRoutes gives up and answers QueryDomains.</summary>
    public const byte DomainStatusVersion = 5;

    /// <summary>What the provider learned: the gateway's challenge (domain normalised), its welcome and the version.</summary>
    internal sealed record ProviderResult(Challenge Challenge, Welcome Welcome, byte Version);

    /// <summary>Who the gateway let in, under which tag, speaking which version.</summary>
    internal sealed record GatewayResult(PeerId Peer, string Tag, byte Version);

    /// <summary>
    /// The provider's role. <paramref name="gatewayCertificateHash"/> is the SHA-256 of the certificate TLS showed
    /// (it is signed, so a relayed signature is useless); <paramref name="expectedTag"/> is the provider's own tag,
    /// which the gateway's welcome must repeat. Throws <see cref="TunnelException"/> on any refusal or violation.
    /// </summary>
    public static async Task<ProviderResult> RunProviderAsync(Stream stream, byte[] gatewayCertificateHash, PeerIdentity identity, string expectedTag,
        TunnelVersions versions, CancellationToken cancellationToken)
    {
        byte[] clientNonce = RandomNumberGenerator.GetBytes(NonceLength);
        await TunnelMessageIO.WriteAsync(stream, new ClientHello(versions.Maximum, clientNonce).Encode(), cancellationToken).ConfigureAwait(false);
        byte[] payload = await TunnelMessageIO.ReadExpectedAsync(stream, TunnelMessageType.Challenge, MaxHandshakePayload, cancellationToken).ConfigureAwait(false);
        if (!Challenge.TryParse(payload, out var challenge))
            throw new TunnelException(TunnelErrorKind.Protocol, "tunnel: malformed challenge from the gateway");
        if (!versions.AcceptsAnswer(challenge.Version))
            throw new TunnelException(TunnelErrorKind.Protocol, $"the gateway speaks tunnel protocol version {challenge.Version}, this provider {versions}");
        string domain;
        try
        {
            domain = TunnelHostname.NormalizeDomain(challenge.Domain);
        }
        catch (ArgumentException)
        {
            throw new TunnelException(TunnelErrorKind.Protocol, $"the gateway announced an invalid domain '{challenge.Domain}'");
        }
        byte[] transcript = AuthTranscript.Build(clientNonce, challenge.ServerNonce, gatewayCertificateHash, domain, challenge.HttpsPort);
        await TunnelMessageIO.WriteAsync(stream, new AuthResponse(identity.PublicKeyProtobuf, identity.Sign(transcript)).Encode(), cancellationToken).ConfigureAwait(false);
        payload = await TunnelMessageIO.ReadExpectedAsync(stream, TunnelMessageType.Welcome, MaxHandshakePayload, cancellationToken).ConfigureAwait(false);
        if (!Welcome.TryParse(payload, out var welcome))
            throw new TunnelException(TunnelErrorKind.Protocol, "tunnel: malformed welcome from the gateway");
        if (welcome.Tag != expectedTag)
            throw new TunnelException(TunnelErrorKind.Protocol, $"the gateway assigned tag '{welcome.Tag}', expected '{expectedTag}'");
        return new ProviderResult(challenge with { Domain = domain }, welcome, challenge.Version);
    }

    /// <summary>
    /// The gateway's role. <paramref name="domain"/> (normalised) and <paramref name="httpsPort"/> are announced and
    /// signed; <paramref name="admit"/> decides on a provider whose signature verified (null admits it, else the
    /// refusal to send). Every refusal is sent to the provider and then thrown as a
    /// <see cref="TunnelErrorKind.Refused"/> <see cref="TunnelException"/>.
    /// </summary>
    public static async Task<GatewayResult> RunGatewayAsync(Stream stream, byte[] certificateHash, string domain, ushort httpsPort, ushort maxRoutes,
        Func<PeerId, string, CancellationToken, ValueTask<Refused?>> admit, TunnelVersions versions, CancellationToken cancellationToken, RelayOffer? relay = null)
    {
        byte[] payload = await TunnelMessageIO.ReadExpectedAsync(stream, TunnelMessageType.ClientHello, MaxHandshakePayload, cancellationToken).ConfigureAwait(false);
        if (!ClientHello.TryParse(payload, out var hello))
            throw new TunnelException(TunnelErrorKind.Protocol, "not a tunnel client (bad hello)");
        if (!versions.TryAgree(hello.Version, out byte version))
            throw await RefuseAsync(stream, new Refused(RefusalCode.UnsupportedVersion, $"this gateway speaks tunnel protocol version {versions}"), cancellationToken).ConfigureAwait(false);
        byte[] serverNonce = RandomNumberGenerator.GetBytes(NonceLength);
        await TunnelMessageIO.WriteAsync(stream, new Challenge(version, serverNonce, domain, httpsPort).Encode(), cancellationToken).ConfigureAwait(false);

        payload = await TunnelMessageIO.ReadExpectedAsync(stream, TunnelMessageType.Auth, MaxHandshakePayload, cancellationToken).ConfigureAwait(false);
        if (!AuthResponse.TryParse(payload, out var auth))
            throw new TunnelException(TunnelErrorKind.Protocol, "malformed authentication message");
        PeerId? peer;
        try
        {
            peer = PeerId.FromPublicKeyProtobuf(auth.PublicKeyProtobuf);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            peer = null;
        }
        byte[] transcript = AuthTranscript.Build(hello.ClientNonce, serverNonce, certificateHash, domain, httpsPort);
        if (peer is null || !peer.TryGetEd25519PublicKey(out _) || !PeerIdentity.Verify(peer, transcript, auth.Signature))
            throw await RefuseAsync(stream, new Refused(RefusalCode.BadSignature, "the identity proof does not verify (wrong key, or signed for another gateway certificate)"), cancellationToken).ConfigureAwait(false);
        string tag = TunnelHostname.TagFor(peer);
        if (await admit(peer, tag, cancellationToken).ConfigureAwait(false) is { } refusal)
            throw await RefuseAsync(stream, refusal, cancellationToken).ConfigureAwait(false);
        var welcome = new Welcome(tag, maxRoutes, version >= RelayOfferVersion ? relay : null);
        await TunnelMessageIO.WriteAsync(stream, welcome.Encode(), cancellationToken).ConfigureAwait(false);
        return new GatewayResult(peer, tag, version);
    }

    /// <summary>Tells the provider why it is turned away; returns the exception for the caller to throw.</summary>
    private static async Task<TunnelException> RefuseAsync(Stream stream, Refused refusal, CancellationToken cancellationToken)
    {
        try
        {
            await TunnelMessageIO.WriteAsync(stream, refusal.Encode(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
        }
        return new TunnelException(TunnelErrorKind.Refused, refusal.Reason);
    }
}

/// <summary>
/// The tunnel protocol versions one side speaks, and the rule for a peer of another version: both speak the lower of
/// the two highest versions, and a side refuses when that is below its own minimum. A newer peer is therefore served
/// in the older side's version, and a peer that dropped the versions we speak is refused with a reason naming both.
/// </summary>
internal readonly record struct TunnelVersions(byte Minimum, byte Maximum)
{
    /// <summary>The gateway's side: the version to speak with a provider whose highest is <paramref name="peerMaximum"/>.</summary>
    public bool TryAgree(byte peerMaximum, out byte agreed)
    {
        agreed = Math.Min(Maximum, peerMaximum);
        return agreed >= Minimum;
    }

    /// <summary>The provider's side, having offered <see cref="Maximum"/>: whether the gateway's choice can be spoken.</summary>
    public bool AcceptsAnswer(byte answered) => answered >= Minimum && answered <= Maximum;

    /// <summary>"1", or "1 to 3".</summary>
    public override string ToString() => Minimum == Maximum ? $"{Maximum}" : $"{Minimum} to {Maximum}";
}
