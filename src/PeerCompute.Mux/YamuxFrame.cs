using System.Buffers.Binary;

namespace PeerCompute.Mux;

public enum YamuxFrameType : byte
{
    Data = 0,
    WindowUpdate = 1,
    Ping = 2,
    GoAway = 3,
}

[Flags]
public enum YamuxFlags : ushort
{
    None = 0,
    Syn = 1,
    Ack = 2,
    Fin = 4,
    Rst = 8,
}

/// <summary>GoAway codes from the yamux spec.</summary>
public enum YamuxGoAwayCode : uint
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
public readonly record struct YamuxFrameHeader(YamuxFrameType Type, YamuxFlags Flags, uint StreamId, uint Length)
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
    /// Parses a header. Returns false when fewer than 12 bytes are available ("need more").
    /// Throws <see cref="MuxProtocolException"/> for a header that is malformed in itself: a version other
    /// than 0, an unknown type, Ping/GoAway on a stream or Data/WindowUpdate on stream 0, ping flags other
    /// than exactly SYN or ACK. Checks that need session state (parity, windows) belong to the session.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> source, out YamuxFrameHeader header)
    {
        header = default;
        if (source.Length < Size)
            return false;
        if (source[0] != ProtocolVersion)
            throw new MuxProtocolException($"yamux: unsupported version {source[0]}");
        byte type = source[1];
        if (type > (byte)YamuxFrameType.GoAway)
            throw new MuxProtocolException($"yamux: unknown frame type {type}");
        var flags = (YamuxFlags)BinaryPrimitives.ReadUInt16BigEndian(source[2..]);
        uint streamId = BinaryPrimitives.ReadUInt32BigEndian(source[4..]);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(source[8..]);
        header = new YamuxFrameHeader((YamuxFrameType)type, flags, streamId, length);
        switch (header.Type)
        {
            case YamuxFrameType.Data or YamuxFrameType.WindowUpdate when streamId == 0:
                throw new MuxProtocolException($"yamux: {header.Type} frame on stream 0");
            case YamuxFrameType.Ping or YamuxFrameType.GoAway when streamId != 0:
                throw new MuxProtocolException($"yamux: {header.Type} frame on stream {streamId}");
            case YamuxFrameType.Ping when flags is not (YamuxFlags.Syn or YamuxFlags.Ack):
                throw new MuxProtocolException($"yamux: ping with flags {(ushort)flags}");
        }
        return true;
    }
}
