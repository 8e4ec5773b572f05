using System.Diagnostics.CodeAnalysis;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Protobuf;

namespace PeerCompute.Net.Relay;

/// <summary>The <c>Status</c> enum of circuit relay v2. Numbers this enum does not name are kept as they came.</summary>
public enum RelayStatus
{
    Unused = 0,
    Ok = 100,
    ReservationRefused = 200,
    ResourceLimitExceeded = 201,
    PermissionDenied = 202,
    ConnectionFailed = 203,
    NoReservation = 204,
    MalformedMessage = 400,
    UnexpectedMessage = 401,
}

/// <summary><c>HopMessage.Type</c>: what a client asks of a relay, or the relay's answer.</summary>
public enum HopMessageType
{
    Reserve = 0,
    Connect = 1,
    Status = 2,
}

/// <summary><c>StopMessage.Type</c>: the relay announcing a circuit to its target, or the target's answer.</summary>
public enum StopMessageType
{
    Connect = 0,
    Status = 1,
}

/// <summary><c>Peer { bytes id = 1; repeated bytes addrs = 2 }</c>: a peer id (required) and its binary multiaddrs.</summary>
public sealed record RelayPeer(PeerId Id, IReadOnlyList<Multiaddr> Addresses);

/// <summary>
/// <c>Limit { optional uint32 duration = 1; optional uint64 data = 2 }</c>: how long a relayed connection may last
/// (seconds) and how many bytes it may carry in each direction. Null means no limit of that kind; a 0 on the wire means
/// the same (the spec's words) and decodes as null.
/// </summary>
public sealed record RelayLimit(uint? DurationSeconds, ulong? DataBytes);

/// <summary>
/// <c>Reservation { uint64 expire = 1; repeated bytes addrs = 2; optional bytes voucher = 3 }</c>: when the reservation
/// ends (UTC Unix seconds), the relay's public addresses (each ending with the relay's <c>/p2p/</c>), and the signed
/// voucher as it came (a <see cref="SignedEnvelope"/>; open it with <see cref="ReservationVoucher.TryOpen"/>).
/// </summary>
public sealed record RelayReservation(ulong ExpireUnixSeconds, IReadOnlyList<Multiaddr> Addresses, byte[]? Voucher);

/// <summary>
/// A message of <c>/libp2p/circuit/relay/0.2.0/hop</c>: <c>HopMessage { Type type = 1; Peer peer = 2;
/// Reservation reservation = 3; Limit limit = 4; Status status = 5 }</c>, every field with explicit presence.
/// <see cref="Encode"/> always writes <c>type</c>, even RESERVE (0).
/// </summary>
public sealed record HopMessage(HopMessageType Type, RelayPeer? Peer = null, RelayReservation? Reservation = null, RelayLimit? Limit = null, RelayStatus? Status = null)
{
    public byte[] Encode()
    {
        var output = new ProtobufWriter(64);
        output.WriteVarint(1, (ulong)Type);
        if (Peer is not null)
            output.WriteMessage(2, RelayWire.EncodePeer(Peer));
        if (Reservation is not null)
            output.WriteMessage(3, RelayWire.EncodeReservation(Reservation));
        if (Limit is not null)
            output.WriteMessage(4, RelayWire.EncodeLimit(Limit));
        if (Status is { } status)
            output.WriteVarint(5, RelayWire.EnumNumber((int)status));
        return output.ToArray();
    }

    /// <summary>
    /// Decodes one message body (without its length prefix). False, with a reason, when it is over
    /// <see cref="RelayProtocol.MaxMessageSize"/>, malformed, lacks <c>type</c> or has a type this version does not
    /// know, or names a peer without a valid id. Unknown fields are skipped, as are addresses that do not decode.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out HopMessage? message, out string? error)
    {
        message = null;
        try
        {
            RelayWire.CheckSize(bytes, "hop");
            HopMessageType? type = null;
            RelayPeer? peer = null;
            RelayReservation? reservation = null;
            RelayLimit? limit = null;
            RelayStatus? status = null;
            var reader = new ProtobufReader(bytes);
            while (reader.TryReadField(out int field, out int wireType, out var value, out ulong number))
            {
                switch (field)
                {
                    case 1:
                        RelayWire.Expect(wireType, ProtobufReader.Varint, "hop: type");
                        type = number <= (ulong)HopMessageType.Status ? (HopMessageType)number : throw new Libp2pProtocolException($"hop: unknown message type {number}");
                        break;
                    case 2:
                        RelayWire.Expect(wireType, ProtobufReader.LengthDelimited, "hop: peer");
                        peer = RelayWire.DecodePeer(value, "hop");
                        break;
                    case 3:
                        RelayWire.Expect(wireType, ProtobufReader.LengthDelimited, "hop: reservation");
                        reservation = RelayWire.DecodeReservation(value);
                        break;
                    case 4:
                        RelayWire.Expect(wireType, ProtobufReader.LengthDelimited, "hop: limit");
                        limit = RelayWire.DecodeLimit(value, "hop");
                        break;
                    case 5:
                        RelayWire.Expect(wireType, ProtobufReader.Varint, "hop: status");
                        status = RelayWire.Status(number);
                        break;
                }
            }
            if (type is null)
                throw new Libp2pProtocolException("hop: the message has no type");
            message = new HopMessage(type.Value, peer, reservation, limit, status);
            error = null;
            return true;
        }
        catch (Libp2pProtocolException e)
        {
            error = e.Message;
            return false;
        }
    }
}

/// <summary>
/// A message of <c>/libp2p/circuit/relay/0.2.0/stop</c>: <c>StopMessage { Type type = 1; Peer peer = 2;
/// Limit limit = 3; Status status = 4 }</c>, every field with explicit presence. <see cref="Encode"/> always writes
/// <c>type</c>, even CONNECT (0).
/// </summary>
public sealed record StopMessage(StopMessageType Type, RelayPeer? Peer = null, RelayLimit? Limit = null, RelayStatus? Status = null)
{
    public byte[] Encode()
    {
        var output = new ProtobufWriter(64);
        output.WriteVarint(1, (ulong)Type);
        if (Peer is not null)
            output.WriteMessage(2, RelayWire.EncodePeer(Peer));
        if (Limit is not null)
            output.WriteMessage(3, RelayWire.EncodeLimit(Limit));
        if (Status is { } status)
            output.WriteVarint(4, RelayWire.EnumNumber((int)status));
        return output.ToArray();
    }

    /// <summary>Decodes one message body; the rules of <see cref="HopMessage.TryDecode"/>.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out StopMessage? message, out string? error)
    {
        message = null;
        try
        {
            RelayWire.CheckSize(bytes, "stop");
            StopMessageType? type = null;
            RelayPeer? peer = null;
            RelayLimit? limit = null;
            RelayStatus? status = null;
            var reader = new ProtobufReader(bytes);
            while (reader.TryReadField(out int field, out int wireType, out var value, out ulong number))
            {
                switch (field)
                {
                    case 1:
                        RelayWire.Expect(wireType, ProtobufReader.Varint, "stop: type");
                        type = number <= (ulong)StopMessageType.Status ? (StopMessageType)number : throw new Libp2pProtocolException($"stop: unknown message type {number}");
                        break;
                    case 2:
                        RelayWire.Expect(wireType, ProtobufReader.LengthDelimited, "stop: peer");
                        peer = RelayWire.DecodePeer(value, "stop");
                        break;
                    case 3:
                        RelayWire.Expect(wireType, ProtobufReader.LengthDelimited, "stop: limit");
                        limit = RelayWire.DecodeLimit(value, "stop");
                        break;
                    case 4:
                        RelayWire.Expect(wireType, ProtobufReader.Varint, "stop: status");
                        status = RelayWire.Status(number);
                        break;
                }
            }
            if (type is null)
                throw new Libp2pProtocolException("stop: the message has no type");
            message = new StopMessage(type.Value, peer, limit, status);
            error = null;
            return true;
        }
        catch (Libp2pProtocolException e)
        {
            error = e.Message;
            return false;
        }
    }
}

/// <summary>The protocol ids and the message limit of circuit relay v2.</summary>
public static class RelayProtocol
{
    public const string Hop = "/libp2p/circuit/relay/0.2.0/hop";
    public const string Stop = "/libp2p/circuit/relay/0.2.0/stop";

    /// <summary>The largest message body either protocol accepts (js-libp2p and go-libp2p use the same 4 KiB).</summary>
    public const int MaxMessageSize = 4096;
}

/// <summary>The sub-messages hop and stop share; decoding throws <see cref="Libp2pProtocolException"/>.</summary>
internal static class RelayWire
{
    public static void CheckSize(ReadOnlySpan<byte> bytes, string what)
    {
        if (bytes.Length > RelayProtocol.MaxMessageSize)
            throw new Libp2pProtocolException($"{what}: message of {bytes.Length} bytes is over {RelayProtocol.MaxMessageSize}");
    }

    public static void Expect(int wireType, int expected, string what)
    {
        if (wireType != expected)
            throw new Libp2pProtocolException($"{what} has wire type {wireType}, not {expected}");
    }

    /// <summary>A protobuf enum is an int32: negative values go on the wire as 64-bit two's complement.</summary>
    public static ulong EnumNumber(int value) => unchecked((ulong)(long)value);

    /// <summary>Any status number is kept (an int32, as protobuf reads enums), named or not.</summary>
    public static RelayStatus Status(ulong number) => (RelayStatus)unchecked((int)number);

    public static ProtobufWriter EncodePeer(RelayPeer peer)
    {
        var output = new ProtobufWriter(64);
        output.WriteBytes(1, peer.Id.Multihash);
        foreach (var address in peer.Addresses)
            output.WriteBytes(2, address.ToBytes());
        return output;
    }

    public static RelayPeer DecodePeer(ReadOnlySpan<byte> bytes, string what)
    {
        PeerId? id = null;
        var addresses = new List<Multiaddr>();
        var reader = new ProtobufReader(bytes);
        while (reader.TryReadField(out int field, out int wireType, out var value))
        {
            switch (field)
            {
                case 1:
                    Expect(wireType, ProtobufReader.LengthDelimited, $"{what}: peer id");
                    id = PeerId.TryFromMultihash(value, out var parsed) ? parsed : throw new Libp2pProtocolException($"{what}: the peer id is not a valid peer id");
                    break;
                case 2:
                    Expect(wireType, ProtobufReader.LengthDelimited, $"{what}: peer address");
                    if (Multiaddr.TryDecode(value, out var address, out _))
                        addresses.Add(address);
                    break;
            }
        }
        return new RelayPeer(id ?? throw new Libp2pProtocolException($"{what}: the peer has no id"), addresses);
    }

    public static ProtobufWriter EncodeReservation(RelayReservation reservation)
    {
        var output = new ProtobufWriter(128);
        output.WriteVarint(1, reservation.ExpireUnixSeconds);
        foreach (var address in reservation.Addresses)
            output.WriteBytes(2, address.ToBytes());
        if (reservation.Voucher is not null)
            output.WriteBytes(3, reservation.Voucher);
        return output;
    }

    public static RelayReservation DecodeReservation(ReadOnlySpan<byte> bytes)
    {
        ulong expire = 0;
        var addresses = new List<Multiaddr>();
        byte[]? voucher = null;
        var reader = new ProtobufReader(bytes);
        while (reader.TryReadField(out int field, out int wireType, out var value, out ulong number))
        {
            switch (field)
            {
                case 1:
                    Expect(wireType, ProtobufReader.Varint, "hop: reservation expire");
                    expire = number;
                    break;
                case 2:
                    Expect(wireType, ProtobufReader.LengthDelimited, "hop: reservation address");
                    if (Multiaddr.TryDecode(value, out var address, out _))
                        addresses.Add(address);
                    break;
                case 3:
                    Expect(wireType, ProtobufReader.LengthDelimited, "hop: reservation voucher");
                    voucher = value.ToArray();
                    break;
            }
        }
        return new RelayReservation(expire, addresses, voucher);
    }

    public static ProtobufWriter EncodeLimit(RelayLimit limit)
    {
        var output = new ProtobufWriter(16);
        if (limit.DurationSeconds is { } duration)
            output.WriteVarint(1, duration);
        if (limit.DataBytes is { } data)
            output.WriteVarint(2, data);
        return output;
    }

    public static RelayLimit DecodeLimit(ReadOnlySpan<byte> bytes, string what)
    {
        uint? duration = null;
        ulong? data = null;
        var reader = new ProtobufReader(bytes);
        while (reader.TryReadField(out int field, out int wireType, out _, out ulong number))
        {
            switch (field)
            {
                case 1:
                    Expect(wireType, ProtobufReader.Varint, $"{what}: limit duration");
                    if (number > uint.MaxValue)
                        throw new Libp2pProtocolException($"{what}: limit duration {number} is over 32 bits");
                    duration = number == 0 ? null : (uint)number;
                    break;
                case 2:
                    Expect(wireType, ProtobufReader.Varint, $"{what}: limit data");
                    data = number == 0 ? null : number;
                    break;
            }
        }
        return new RelayLimit(duration, data);
    }
}
