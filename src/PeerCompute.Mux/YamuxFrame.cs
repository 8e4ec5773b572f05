using System.Buffers;
using System.Buffers.Binary;

namespace PeerCompute.Mux;

internal enum YamuxFrameType : byte
{
    Data = 0,
    WindowUpdate = 1,
    Ping = 2,
    GoAway = 3,
}

[Flags]
internal enum YamuxFlags : ushort
{
    None = 0,
    Syn = 1,
    Ack = 2,
    Fin = 4,
    Rst = 8,
}

/// <summary>GoAway codes from the yamux spec.</summary>
internal enum YamuxGoAwayCode : uint
{
    Normal = 0,
    ProtocolError = 1,
    InternalError = 2,
}

/// <summary>
/// The 12-byte yamux frame header: <c>version u8 | type u8 | flags u16 | stream id u32 | length u32</c>, big-endian.
/// For Data, <see cref="Length"/> is the body size; for WindowUpdate the window delta; for Ping the opaque value;
/// for GoAway the code. Only Data frames carry a body.
/// </summary>
internal readonly record struct YamuxFrameHeader(YamuxFrameType Type, YamuxFlags Flags, uint StreamId, uint Length)
{
    public const int Size = 12;
    public const byte ProtocolVersion = 0;

    public void Write(Span<byte> destination)
    {
        destination[0] = ProtocolVersion;
        destination[1] = (byte)Type;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)Flags);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], StreamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], Length);
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        Write(bytes);
        return bytes;
    }

    /// <summary>
    /// Parses a header (the codebase's one need-more convention): <see cref="OperationStatus.Done"/> with the header
    /// and <paramref name="consumed"/> = 12; <see cref="OperationStatus.NeedMoreData"/> when fewer than 12 bytes are
    /// there (nothing consumed); <see cref="OperationStatus.InvalidData"/> for a header malformed in itself: a version
    /// other than 0, an unknown type, Ping/GoAway on a stream or Data/WindowUpdate on stream 0, ping flags other than
    /// exactly SYN or ACK. Checks that need session state (parity, windows) belong to the session.
    /// </summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> input, out YamuxFrameHeader header, out int consumed) =>
        TryRead(input, out header, out consumed, out _);

    /// <summary>
    /// <see cref="TryRead(ReadOnlySpan{byte}, out YamuxFrameHeader, out int)"/>, and for
    /// <see cref="OperationStatus.InvalidData"/> the reason a person can read (what the session ends with).
    /// </summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> input, out YamuxFrameHeader header, out int consumed, out string? invalidReason)
    {
        header = default;
        consumed = 0;
        invalidReason = null;
        if (input.Length < Size)
            return OperationStatus.NeedMoreData;
        if (input[0] != ProtocolVersion)
            return Invalid($"yamux: unsupported version {input[0]}", out invalidReason);
        byte type = input[1];
        if (type > (byte)YamuxFrameType.GoAway)
            return Invalid($"yamux: unknown frame type {type}", out invalidReason);
        var flags = (YamuxFlags)BinaryPrimitives.ReadUInt16BigEndian(input[2..]);
        uint streamId = BinaryPrimitives.ReadUInt32BigEndian(input[4..]);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(input[8..]);
        var parsed = new YamuxFrameHeader((YamuxFrameType)type, flags, streamId, length);
        switch (parsed.Type)
        {
            case YamuxFrameType.Data or YamuxFrameType.WindowUpdate when streamId == 0:
                return Invalid($"yamux: {parsed.Type} frame on stream 0", out invalidReason);
            case YamuxFrameType.Ping or YamuxFrameType.GoAway when streamId != 0:
                return Invalid($"yamux: {parsed.Type} frame on stream {streamId}", out invalidReason);
            case YamuxFrameType.Ping when flags is not (YamuxFlags.Syn or YamuxFlags.Ack):
                return Invalid($"yamux: ping with flags {(ushort)flags}", out invalidReason);
        }
        header = parsed;
        consumed = Size;
        return OperationStatus.Done;
    }

    private static OperationStatus Invalid(string reason, out string? invalidReason)
    {
        invalidReason = reason;
        return OperationStatus.InvalidData;
    }
}
