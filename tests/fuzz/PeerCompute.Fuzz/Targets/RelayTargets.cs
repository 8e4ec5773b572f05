using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net;
using PeerCompute.Net.HolePunch;
using PeerCompute.Net.Relay;

namespace PeerCompute.Fuzz.Targets;

/// <summary>What the relay and DCUtR targets share: two peer ids and the stability check.</summary>
internal static class RelayFuzz
{
    public static readonly PeerId First = PeerId.Parse("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
    public static readonly PeerId Ones = PeerId.Parse("12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5");

    /// <summary>Our own encoding decodes, and re-encodes to the same bytes.</summary>
    public static void Stable(byte[] encoded, Func<byte[], byte[]?> decodeEncode, string what)
    {
        var again = decodeEncode(encoded) ?? throw new ContractViolationException($"{what}: our own encoding does not decode");
        if (!again.AsSpan().SequenceEqual(encoded))
            throw new ContractViolationException($"{what}: decode → encode is not stable");
    }
}

/// <summary>A target whose input is a message body or a framed stream (<see cref="DelimitedMessage"/>).</summary>
public abstract class FramedMessageTarget : FuzzTarget
{
    /// <summary>
    /// Input byte 0 even: the rest is a message body. Odd: the rest is a stream; the framing reads one message from it
    /// (TryRead and ReadAsync must agree, ReadAsync stopping exactly where TryRead did) and its body is decoded.
    /// Returns the body to decode, or false when the framing refused it (in the way it must).
    /// </summary>
    protected static bool TryBody(ReadOnlySpan<byte> input, int maxLength, out ReadOnlySpan<byte> body)
    {
        body = default;
        if (input.IsEmpty)
            return false;
        var rest = input[1..];
        if ((input[0] & 1) == 0)
        {
            body = rest;
            return true;
        }
        var status = DelimitedMessage.TryRead(rest, maxLength, out body, out int consumed);
        using var stream = new MemoryStream(rest.ToArray());
        byte[]? read = null;
        Libp2pProtocolException? refused = null;
        try
        {
            read = Await(ct => DelimitedMessage.ReadAsync(stream, maxLength, ct));
        }
        catch (Libp2pProtocolException e)
        {
            refused = e;
        }
        if (status == System.Buffers.OperationStatus.Done)
        {
            if (read is null)
                throw new ContractViolationException($"TryRead took a frame that ReadAsync refused: {refused?.Message}");
            if (consumed > rest.Length || body.Length > maxLength || !read.AsSpan().SequenceEqual(body) || stream.Position != consumed)
                throw new ContractViolationException($"TryRead and ReadAsync disagree (consumed {consumed}, read to {stream.Position})");
            return true;
        }
        if (read is not null)
            throw new ContractViolationException($"ReadAsync read a frame TryRead answered {status} to");
        if (consumed != 0)
            throw new ContractViolationException($"{status} consumed {consumed} bytes");
        return false;
    }
}

/// <summary>
/// Circuit relay v2 hop messages: TryDecode answers true or false with a reason and never throws; an accepted message
/// re-encodes stably and keeps its fields. Input: byte 0 even = a body, odd = a framed stream (see FramedMessageTarget.TryBody).
/// </summary>
public sealed class RelayHopTarget : FramedMessageTarget
{
    public override string Name => "relay-hop";
    public override string Description => "HopMessage.TryDecode/Encode, DelimitedMessage.TryRead/ReadAsync";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (!TryBody(input, RelayProtocol.MaxMessageSize, out var body))
            return;
        if (!HopMessage.TryDecode(body, out var message, out string? error))
        {
            Check(error is not null, "refused without a reason");
            return;
        }
        Check(Enum.IsDefined(message.Type) && body.Length <= RelayProtocol.MaxMessageSize, "accepted an unknown type or an oversize message");
        Check(message.Limit is null || (message.Limit.DurationSeconds != 0 && message.Limit.DataBytes != 0), "a zero limit was not read as no limit");
        byte[] encoded = message.Encode();
        RelayFuzz.Stable(encoded, b => HopMessage.TryDecode(b, out var m, out _) ? m.Encode() : null, "hop");
        Check(HopMessage.TryDecode(encoded, out var again, out _) && again.Type == message.Type && again.Status == message.Status
            && again.Limit == message.Limit && again.Peer?.Id == message.Peer?.Id
            && (again.Peer?.Addresses.Count ?? 0) == (message.Peer?.Addresses.Count ?? 0)
            && again.Reservation?.ExpireUnixSeconds == message.Reservation?.ExpireUnixSeconds
            && (again.Reservation?.Voucher ?? []).AsSpan().SequenceEqual(message.Reservation?.Voucher ?? []), "hop round trip changed a field");
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        var relayAddress = Multiaddr.Parse($"/ip4/192.0.2.1/tcp/4001/p2p/{RelayFuzz.First}");
        byte[] reserve = new HopMessage(HopMessageType.Reserve).Encode();
        byte[] ok = new HopMessage(HopMessageType.Status,
            Reservation: new RelayReservation(1_700_000_000, [relayAddress], [0x0a, 0x00]),
            Limit: new RelayLimit(120, 131072), Status: RelayStatus.Ok).Encode();
        byte[] connect = new HopMessage(HopMessageType.Connect, new RelayPeer(RelayFuzz.Ones, [Multiaddr.Parse("/ip4/198.51.100.7/tcp/9000")])).Encode();
        yield return ("reserve", [0, .. reserve]);
        yield return ("status-ok-reservation", [0, .. ok]);
        yield return ("connect", [0, .. connect]);
        yield return ("refused", [0, .. new HopMessage(HopMessageType.Status, Status: RelayStatus.NoReservation).Encode()]);
        yield return ("no-type", [0, 0x28, 0x64]);
        yield return ("bad-peer-id", [0, 0x08, 0x01, 0x12, 0x04, 0x0a, 0x02, 0x01, 0x02]);
        yield return ("framed-connect-then-raw", [1, (byte)connect.Length, .. connect, .. "/multistream/1.0.0\n"u8]);
        yield return ("framed-oversize", [1, 0x81, 0x20, 0x08, 0x00]);
        yield return ("framed-cut", [1, (byte)ok.Length, .. ok[..10]]);
    }
}

/// <summary>Circuit relay v2 stop messages: the contract of <see cref="RelayHopTarget"/>. Input: the same two modes.</summary>
public sealed class RelayStopTarget : FramedMessageTarget
{
    public override string Name => "relay-stop";
    public override string Description => "StopMessage.TryDecode/Encode, DelimitedMessage.TryRead/ReadAsync";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (!TryBody(input, RelayProtocol.MaxMessageSize, out var body))
            return;
        if (!StopMessage.TryDecode(body, out var message, out string? error))
        {
            Check(error is not null, "refused without a reason");
            return;
        }
        Check(Enum.IsDefined(message.Type), "accepted an unknown type");
        byte[] encoded = message.Encode();
        RelayFuzz.Stable(encoded, b => StopMessage.TryDecode(b, out var m, out _) ? m.Encode() : null, "stop");
        Check(StopMessage.TryDecode(encoded, out var again, out _) && again.Type == message.Type && again.Status == message.Status
            && again.Limit == message.Limit && again.Peer?.Id == message.Peer?.Id, "stop round trip changed a field");
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        byte[] connect = new StopMessage(StopMessageType.Connect, new RelayPeer(RelayFuzz.First, []), new RelayLimit(120, 131072)).Encode();
        yield return ("connect", [0, .. connect]);
        yield return ("status-ok", [0, .. new StopMessage(StopMessageType.Status, Status: RelayStatus.Ok).Encode()]);
        yield return ("status-unknown", [0, 0x08, 0x01, 0x20, 0xe7, 0x07]);
        yield return ("limit-zero", [0, 0x08, 0x00, 0x1a, 0x04, 0x08, 0x00, 0x10, 0x00]);
        yield return ("unknown-type", [0, 0x08, 0x02]);
        yield return ("framed-connect", [1, (byte)connect.Length, .. connect]);
    }
}

/// <summary>
/// Signed envelopes and reservation vouchers: decoding, verifying and opening answer true or false and never throw; an
/// accepted envelope or voucher re-encodes stably; an opened voucher's relay is the envelope's verified signer.
/// Input: byte 0 even = an envelope (decoded, verified, opened as a voucher), odd = a voucher payload.
/// </summary>
public sealed class RelayVoucherTarget : FuzzTarget
{
    private static readonly byte[] FirstSeed = Convert.FromHexString("7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d");
    private static readonly byte[] OnesSeed = Enumerable.Repeat((byte)0x01, 32).ToArray();

    public override string Name => "relay-voucher";
    public override string Description => "SignedEnvelope.TryDecode/TryVerify/Encode, ReservationVoucher.TryDecode/TryOpen/Encode";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        var bytes = input[1..];
        if ((input[0] & 1) == 1)
        {
            if (ReservationVoucher.TryDecode(bytes, out var payload, out string? why))
                RelayFuzz.Stable(payload.Encode(), b => ReservationVoucher.TryDecode(b, out var v, out _) ? v.Encode() : null, "voucher");
            else
                Check(why is not null, "voucher refused without a reason");
            return;
        }
        bool opened = ReservationVoucher.TryOpen(bytes, out var voucher, out string? error);
        Check(opened ? voucher is not null && error is null : voucher is null && error is not null, "TryOpen's answer and its outputs disagree");
        if (!SignedEnvelope.TryDecode(bytes, out var envelope, out error))
        {
            Check(!opened && error is not null, "an envelope that does not decode was opened, or refused without a reason");
            return;
        }
        RelayFuzz.Stable(envelope.Encode(), b => SignedEnvelope.TryDecode(b, out var e, out _) ? e.Encode() : null, "envelope");
        bool verified = envelope.TryVerify(ReservationVoucher.Domain, out var signer);
        if (opened)
            Check(verified && signer == voucher!.Relay && envelope.PayloadType.AsSpan().SequenceEqual(ReservationVoucher.PayloadType), "opened a voucher its envelope does not vouch for");
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        using var relay = PeerIdentity.FromSeed(FirstSeed);
        using var other = PeerIdentity.FromSeed(OnesSeed);
        var voucher = new ReservationVoucher(relay.PeerId, other.PeerId, 1_700_000_000);
        byte[] sealedVoucher = voucher.Seal(relay).Encode();
        yield return ("voucher", [0, .. sealedVoucher]);
        yield return ("voucher-forged", [0, .. SignedEnvelope.Seal(other, ReservationVoucher.Domain, ReservationVoucher.PayloadType, voucher.Encode()).Encode()]);
        yield return ("voucher-other-domain", [0, .. SignedEnvelope.Seal(relay, "libp2p-routing-state", ReservationVoucher.PayloadType, voucher.Encode()).Encode()]);
        byte[] tampered = (byte[])sealedVoucher.Clone();
        tampered[^1] ^= 0x01;
        yield return ("voucher-bad-signature", [0, .. tampered]);
        yield return ("envelope-truncated", [0, .. sealedVoucher[..50]]);
        yield return ("payload", [1, .. voucher.Encode()]);
        yield return ("payload-no-peer", [1, 0x0a, 0x26, .. relay.PeerId.Multihash]);
    }
}

/// <summary>
/// DCUtR HolePunch messages: TryDecode answers true or false with a reason and never throws; an accepted message
/// re-encodes stably with the same type and addresses. Input: the two modes of <see cref="RelayHopTarget"/>.
/// </summary>
public sealed class HolePunchTarget : FramedMessageTarget
{
    public override string Name => "holepunch";
    public override string Description => "HolePunchMessage.TryDecode/Encode, DelimitedMessage.TryRead/ReadAsync";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (!TryBody(input, HolePunchMessage.MaxSize, out var body))
            return;
        if (!HolePunchMessage.TryDecode(body, out var message, out string? error))
        {
            Check(error is not null, "refused without a reason");
            return;
        }
        Check(message.Type is HolePunchType.Connect or HolePunchType.Sync, "accepted an unknown type");
        byte[] encoded = message.Encode();
        RelayFuzz.Stable(encoded, b => HolePunchMessage.TryDecode(b, out var m, out _) ? m.Encode() : null, "holepunch");
        Check(HolePunchMessage.TryDecode(encoded, out var again, out _) && again.Type == message.Type
            && again.ObservedAddresses.SequenceEqual(message.ObservedAddresses), "holepunch round trip changed a field");
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        byte[] connect = new HolePunchMessage(HolePunchType.Connect,
            [Multiaddr.Parse("/ip4/198.51.100.7/tcp/51000"), Multiaddr.Parse("/ip6/2001:db8::1/tcp/9000")]).Encode();
        yield return ("connect", [0, .. connect]);
        yield return ("sync", [0, .. new HolePunchMessage(HolePunchType.Sync, []).Encode()]);
        yield return ("bad-address-skipped", [0, 0x08, 0x64, 0x12, 0x02, 0x04, 0xc0]);
        yield return ("unknown-type", [0, 0x08, 0xc8, 0x01]);
        yield return ("framed-connect-then-sync", [1, (byte)connect.Length, .. connect, 0x03, 0x08, 0xac, 0x02]);
    }
}
