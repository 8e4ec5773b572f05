using System.Buffers;
using PeerCompute.Core.Identity;
using PeerCompute.Tunnel;
using PeerCompute.Tunnel.Hostnames;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Fuzz.Targets;

/// <summary>
/// The tunnel protocol: frames (<see cref="TunnelFrame"/>) read one after another, each payload given to the parser
/// of its type (handshake: ClientHello, Challenge, Auth, Welcome, Refused; control stream: SetRoutes, RoutesResult, QueryDomains, DomainStates);
/// an accepted message re-encodes to a frame that parses to the same message. The stream readers
/// (<c>TunnelMessageIO</c>: messages and route headers) run the same parsers over a stream cut in chunks: they read
/// the same frames as the parser, stop where it stops, and fail only with <see cref="TunnelException"/>.
/// Input: byte 0 = read chunk and route-header mode (bit 7), then the stream.
/// </summary>
public sealed class TunnelTarget : FuzzTarget
{
    public override string Name => "tunnel";
    public override string Description => "TunnelFrame, handshake and control messages, RouteHeader, TunnelMessageIO";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        var data = input[1..].ToArray();
        int chunk = 1 + (input[0] & 0x3F);
        if ((input[0] & 0x80) != 0)
        {
            RouteHeaders(data, chunk);
            return;
        }

        var rest = data.AsSpan();
        var frames = new List<(TunnelMessageType Type, byte[] Payload)>();
        while (true)
        {
            var status = TunnelFrame.TryRead(rest, TunnelFrame.MaxPayload, out var type, out var payload, out int consumed);
            if (status != OperationStatus.Done)
            {
                Check(status == OperationStatus.NeedMoreData, $"unexpected status {status} with the largest limit");
                break;
            }
            Check(TunnelFrame.Encode(type, payload).AsSpan().SequenceEqual(rest[..consumed]), "re-encoding a frame changed its bytes");
            ParseAndRoundTrip(type, payload);
            frames.Add((type, payload.ToArray()));
            rest = rest[consumed..];
        }

        // The same stream through the stream reader: the same frames, and nothing after the last whole one.
        Await(async ct =>
        {
            var stream = new ChunkedStream(data, chunk);
            int read = 0;
            try
            {
                while (true)
                {
                    var (type, payload) = await TunnelMessageIO.ReadAsync(stream, TunnelFrame.MaxPayload, ct);
                    Check(read < frames.Count && frames[read].Type == type && frames[read].Payload.AsSpan().SequenceEqual(payload), "the stream reader and the parser disagree on a frame");
                    read++;
                }
            }
            catch (TunnelException)
            {
            }
            Check(read == frames.Count, $"the stream reader read {read} frames, the parser {frames.Count}");
            return 0;
        });

        // And through the handshake reader, with a small limit so oversize frames are met too.
        int limit = 1 + (data.Length > 0 ? data[0] : 0) * 4;
        Await(async ct =>
        {
            var stream = new ChunkedStream(data, chunk);
            try
            {
                while (true)
                    await TunnelMessageIO.ReadExpectedAsync(stream, TunnelMessageType.ClientHello, limit, ct);
            }
            catch (TunnelException)
            {
            }
            return 0;
        });
    }

    private static void ParseAndRoundTrip(TunnelMessageType type, ReadOnlySpan<byte> payload)
    {
        switch (type)
        {
            case TunnelMessageType.ClientHello:
                if (ClientHello.TryParse(payload, out var hello))
                    Same(ClientHello.TryParse(Payload(hello.Encode()), out var h2) && h2.Version == hello.Version && h2.ClientNonce.AsSpan().SequenceEqual(hello.ClientNonce));
                break;
            case TunnelMessageType.Challenge:
                if (Challenge.TryParse(payload, out var challenge))
                {
                    Same(Challenge.TryParse(Payload(challenge.Encode()), out var c2) && c2.Version == challenge.Version && c2.ServerNonce.AsSpan().SequenceEqual(challenge.ServerNonce)
                        && c2.Domain == challenge.Domain && c2.HttpsPort == challenge.HttpsPort);
                    try
                    {
                        _ = TunnelHostname.NormalizeDomain(challenge.Domain); // what the client does with it
                    }
                    catch (ArgumentException)
                    {
                    }
                }
                break;
            case TunnelMessageType.Auth:
                if (AuthResponse.TryParse(payload, out var auth))
                {
                    Same(AuthResponse.TryParse(Payload(auth.Encode()), out var a2) && a2.PublicKeyProtobuf.AsSpan().SequenceEqual(auth.PublicKeyProtobuf) && a2.Signature.AsSpan().SequenceEqual(auth.Signature));
                    // What the gateway does with it (TunnelServer): a peer id from the key, then the signature check.
                    var peer = PeerId.FromPublicKeyProtobuf(auth.PublicKeyProtobuf);
                    if (peer.TryGetEd25519PublicKey(out _))
                        _ = PeerIdentity.Verify(peer, "transcript"u8, auth.Signature);
                    _ = TunnelHostname.TagFor(peer);
                }
                break;
            case TunnelMessageType.Welcome:
                if (Welcome.TryParse(payload, out var welcome))
                    Same(Welcome.TryParse(Payload(welcome.Encode()), out var w2) && w2 == welcome);
                break;
            case TunnelMessageType.Refused:
                // Longer reasons are cut when sent.
                if (Refused.TryParse(payload, out var refused) && System.Text.Encoding.UTF8.GetByteCount(refused.Reason) <= 1024)
                    Same(Refused.TryParse(Payload(refused.Encode()), out var r2) && r2 == refused);
                break;
            case TunnelMessageType.SetRoutes:
                if (SetRoutes.TryParse(payload, out var routes))
                {
                    Same(SetRoutes.TryParse(Payload(routes.Encode()), out var s2) && s2.Labels.SequenceEqual(routes.Labels));
                    foreach (string label in routes.Labels)
                        _ = TunnelHostname.TryParseLabel(label, out _, out _);
                }
                break;
            case TunnelMessageType.RoutesResult:
                if (RoutesResult.TryParse(payload, out var results) && results.Results.All(r => System.Text.Encoding.UTF8.GetByteCount(r.Reason) <= 1024))
                    Same(RoutesResult.TryParse(Payload(results.Encode()), out var rr2) && rr2.Results.SequenceEqual(results.Results));
                break;
            case TunnelMessageType.QueryDomains:
                if (QueryDomains.TryParse(payload, out var query))
                    Same(QueryDomains.TryParse(Payload(query.Encode()), out var q2) && q2.Domains.SequenceEqual(query.Domains));
                break;
            case TunnelMessageType.DomainStates:
                if (DomainStates.TryParse(payload, out var states) && states.States.All(d => System.Text.Encoding.UTF8.GetByteCount(d.Detail) <= 1024))
                    Same(DomainStates.TryParse(Payload(states.Encode()), out var d2) && d2.States.SequenceEqual(states.States));
                break;
        }
    }

    private static void Same(bool ok) => Check(ok, "a tunnel message changed in a round trip");

    private static ReadOnlySpan<byte> Payload(byte[] frame) => frame.AsSpan(TunnelFrame.HeaderSize);

    private static void RouteHeaders(byte[] data, int chunk)
    {
        var status = RouteHeader.TryRead(data, out string label, out int consumed);
        if (status == OperationStatus.Done)
            Check(RouteHeader.Encode(label).AsSpan().SequenceEqual(data.AsSpan(0, consumed)), "re-encoding a route header changed its bytes");
        string? read = Await(async ct =>
        {
            try
            {
                return await TunnelMessageIO.ReadRouteHeaderAsync(new ChunkedStream(data, chunk), ct);
            }
            catch (TunnelException)
            {
                return null;
            }
        });
        Check((read is not null) == (status == OperationStatus.Done) && (read is null || read == label), $"the stream reader and the parser disagree on a route header ({status}, '{read}')");
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        var identity = PeerIdentity.FromSeed(Enumerable.Repeat((byte)1, 32).ToArray());
        var nonce = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        yield return ("handshake-client", [0, .. new ClientHello(1, nonce).Encode(), .. new AuthResponse(identity.PublicKeyProtobuf, identity.Sign("x"u8)).Encode()]);
        yield return ("handshake-gateway", [5, .. new Challenge(1, nonce, "tunnel.example", 8443).Encode(), .. new Welcome("abcdefghijkl", 16).Encode()]);
        yield return ("refused", [0, .. new Refused(RefusalCode.Untrusted, "provider is not trusted").Encode()]);
        yield return ("control", [2, .. new SetRoutes(["web-abcdefghijkl", "api-abcdefghijkl"]).Encode(),
            .. new RoutesResult([new RouteResult("web-abcdefghijkl", true, ""), new RouteResult("x", false, "bad label")]).Encode()]);
        yield return ("control-domains", [2, .. new SetRoutes(["web-abcdefghijkl"], null, [["www.example.org"]], [new ReleasedDomain("old-abcdefghijkl", "shop.example.org")]).Encode(),
            .. new QueryDomains(["www.example.org"]).Encode(),
            .. new DomainStates([new PeerCompute.Tunnel.Gateway.DomainStatus("www.example.org", "web-abcdefghijkl", PeerCompute.Tunnel.Gateway.DomainState.Failed,
                null, DateTimeOffset.FromUnixTimeSeconds(1_900_000_000), "the CA said no")]).Encode()]);
        yield return ("oversize", [0, 0x01, 0xFF, 0xFF]);
        yield return ("route-header", [0x80 | 3, .. RouteHeader.Encode("web-abcdefghijkl"), 1, 2, 3]);
        yield return ("route-header-bad", [0x80, 1, 3, (byte)'A', (byte)'b', (byte)'c']);
    }
}
