using System.Buffers;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Tests;

public class TunnelMessageTests
{
    private static byte[] Payload(byte[] frame)
    {
        var status = TunnelFrame.TryRead(frame, TunnelFrame.MaxPayload, out _, out var payload, out int consumed);
        if (status != OperationStatus.Done || consumed != frame.Length)
            throw new InvalidOperationException("not one whole frame");
        return payload.ToArray();
    }

    [Test]
    public async Task Every_handshake_message_round_trips()
    {
        byte[] nonce = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        ClientHello.TryParse(Payload(new ClientHello(1, nonce).Encode()), out var hello);
        Challenge.TryParse(Payload(new Challenge(1, nonce, "pc.localhost", 8443).Encode()), out var challenge);
        AuthResponse.TryParse(Payload(new AuthResponse([8, 1, 18, 32, .. nonce], new byte[64]).Encode()), out var auth);
        Welcome.TryParse(Payload(new Welcome("abcdefghijkl", 256).Encode()), out var welcome);
        Refused.TryParse(Payload(new Refused(RefusalCode.Untrusted, "not on the list ✓").Encode()), out var refused);

        await Assert.That(hello!.ClientNonce).IsEquivalentTo(nonce);
        await Assert.That(challenge!.Domain).IsEqualTo("pc.localhost");
        await Assert.That(challenge.HttpsPort).IsEqualTo((ushort)8443);
        await Assert.That(auth!.PublicKeyProtobuf.Length).IsEqualTo(36);
        await Assert.That(welcome).IsEqualTo(new Welcome("abcdefghijkl", 256));
        await Assert.That(refused).IsEqualTo(new Refused(RefusalCode.Untrusted, "not on the list ✓"));
    }

    [Test]
    public async Task Control_messages_round_trip()
    {
        SetRoutes.TryParse(Payload(new SetRoutes(["web-abcdefghijkl", "api-abcdefghijkl"]).Encode()), out var routes);
        RoutesResult.TryParse(Payload(new RoutesResult([new RouteResult("web-abcdefghijkl", true, ""), new RouteResult("x-zzzzzzzzzzzz", false, "not yours")]).Encode()), out var result);

        await Assert.That(routes!.Labels).IsEquivalentTo(new[] { "web-abcdefghijkl", "api-abcdefghijkl" });
        await Assert.That(result!.Results[1]).IsEqualTo(new RouteResult("x-zzzzzzzzzzzz", false, "not yours"));
    }

    [Test]
    public async Task A_frame_cut_anywhere_needs_more_data_and_never_reads_past_its_end()
    {
        byte[] frame = new Challenge(1, new byte[32], "pc.localhost", 443).Encode();
        byte[] withNext = [.. frame, 0x01, 0x02];
        for (int cut = 0; cut < frame.Length; cut++)
            await Assert.That(TunnelFrame.TryRead(frame.AsSpan(0, cut), 4096, out _, out _, out _)).IsEqualTo(OperationStatus.NeedMoreData);

        var status = TunnelFrame.TryRead(withNext, 4096, out var type, out _, out int consumed);

        await Assert.That(status).IsEqualTo(OperationStatus.Done);
        await Assert.That(type).IsEqualTo(TunnelMessageType.Challenge);
        await Assert.That(consumed).IsEqualTo(frame.Length);
    }

    [Test]
    public async Task A_length_over_the_limit_is_refused_before_the_payload_arrives()
    {
        byte[] header = [(byte)TunnelMessageType.ClientHello, 0x10, 0x01];

        await Assert.That(TunnelFrame.TryRead(header, 4096, out _, out _, out _)).IsEqualTo(OperationStatus.InvalidData);
    }

    [Test]
    public async Task Truncated_or_wrong_payloads_do_not_parse()
    {
        byte[] hello = Payload(new ClientHello(1, new byte[32]).Encode());
        byte[] badMagic = [.. hello];
        badMagic[0] = (byte)'X';
        byte[] challenge = Payload(new Challenge(1, new byte[32], "pc.localhost", 443).Encode());
        byte[] nonAsciiDomain = [.. challenge];
        nonAsciiDomain[34] = 0xFF;

        for (int cut = 0; cut < hello.Length; cut++)
            await Assert.That(ClientHello.TryParse(hello.AsSpan(0, cut), out _)).IsFalse();
        for (int cut = 0; cut < challenge.Length; cut++)
            await Assert.That(Challenge.TryParse(challenge.AsSpan(0, cut), out _)).IsFalse();
        await Assert.That(ClientHello.TryParse(badMagic, out _)).IsFalse();
        await Assert.That(Challenge.TryParse(nonAsciiDomain, out _)).IsFalse();
        await Assert.That(SetRoutes.TryParse([0x00, 0x05, 0x03, (byte)'a'], out _)).IsFalse();
        await Assert.That(RoutesResult.TryParse([0x00, 0x01, 0x01, (byte)'a', 0x02, 0x00, 0x00], out _)).IsFalse();
    }

    [Test]
    public async Task Random_bytes_never_crash_the_parsers()
    {
        var random = new Random(1234);
        int frames = 0;
        for (int i = 0; i < 5000; i++)
        {
            byte[] bytes = new byte[random.Next(0, 80)];
            random.NextBytes(bytes);
            if (TunnelFrame.TryRead(bytes, 64, out _, out _, out _) == OperationStatus.Done)
                frames++;
            _ = ClientHello.TryParse(bytes, out _);
            _ = Challenge.TryParse(bytes, out _);
            _ = AuthResponse.TryParse(bytes, out _);
            _ = Welcome.TryParse(bytes, out _);
            _ = Refused.TryParse(bytes, out _);
            _ = SetRoutes.TryParse(bytes, out _);
            _ = RoutesResult.TryParse(bytes, out _);
            _ = RouteHeader.TryRead(bytes, out _, out _);
        }
        // Some random inputs are whole small frames; none made a parser throw.
        await Assert.That(frames).IsGreaterThan(0);
    }

    [Test]
    public async Task A_route_header_parses_whole_and_says_need_more_when_cut()
    {
        byte[] header = RouteHeader.Encode("web-abcdefghijkl");
        byte[] followed = [.. header, (byte)'G', (byte)'E', (byte)'T'];

        var status = RouteHeader.TryRead(followed, out string label, out int consumed);

        await Assert.That(status).IsEqualTo(OperationStatus.Done);
        await Assert.That(label).IsEqualTo("web-abcdefghijkl");
        await Assert.That(consumed).IsEqualTo(header.Length);
        for (int cut = 0; cut < header.Length; cut++)
            await Assert.That(RouteHeader.TryRead(header.AsSpan(0, cut), out _, out _)).IsEqualTo(OperationStatus.NeedMoreData);
        await Assert.That(RouteHeader.TryRead([2, 3, (byte)'a', (byte)'b', (byte)'c'], out _, out _)).IsEqualTo(OperationStatus.InvalidData);
        await Assert.That(RouteHeader.TryRead([1, 3, (byte)'a', (byte)'/', (byte)'c'], out _, out _)).IsEqualTo(OperationStatus.InvalidData);
        await Assert.That(RouteHeader.TryRead([1, 0], out _, out _)).IsEqualTo(OperationStatus.InvalidData);
    }

    [Test]
    public async Task The_signed_transcript_changes_with_every_bound_value()
    {
        byte[] a = new byte[32], b = new byte[32], cert = new byte[32];
        byte[] baseline = AuthTranscript.Build(a, b, cert, "pc.localhost", 443);
        byte[] otherNonce = [.. a];
        otherNonce[0] = 1;
        byte[] otherCert = [.. cert];
        otherCert[31] = 1;

        await Assert.That(AuthTranscript.Build(otherNonce, b, cert, "pc.localhost", 443)).IsNotEquivalentTo(baseline);
        await Assert.That(AuthTranscript.Build(a, otherNonce, cert, "pc.localhost", 443)).IsNotEquivalentTo(baseline);
        await Assert.That(AuthTranscript.Build(a, b, otherCert, "pc.localhost", 443)).IsNotEquivalentTo(baseline);
        await Assert.That(AuthTranscript.Build(a, b, cert, "pc.localhosu", 443)).IsNotEquivalentTo(baseline);
        await Assert.That(AuthTranscript.Build(a, b, cert, "pc.localhost", 444)).IsNotEquivalentTo(baseline);
    }
}
