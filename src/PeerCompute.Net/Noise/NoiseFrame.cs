using System.Buffers;
using System.Buffers.Binary;

namespace PeerCompute.Net.Noise;

/// <summary>The framing of every Noise message on the wire, handshake and transport: <c>u16 big-endian length ‖ body</c>.</summary>
internal static class NoiseFrame
{
    public const int HeaderLength = 2;

    /// <summary>
    /// Reads one frame: <see cref="OperationStatus.Done"/> with its body at <c>[HeaderLength, HeaderLength + bodyLength)</c>
    /// and the bytes it takes; <see cref="OperationStatus.NeedMoreData"/> when <paramref name="input"/> ends inside it;
    /// <see cref="OperationStatus.InvalidData"/> (as soon as the header is in) when the body is shorter than <paramref name="minBodyLength"/>.
    /// </summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> input, int minBodyLength, out int bodyLength, out int consumed)
    {
        consumed = 0;
        bodyLength = 0;
        if (input.Length < HeaderLength)
            return OperationStatus.NeedMoreData;
        int length = BinaryPrimitives.ReadUInt16BigEndian(input);
        if (length < minBodyLength)
            return OperationStatus.InvalidData;
        if (input.Length - HeaderLength < length)
            return OperationStatus.NeedMoreData;
        bodyLength = length;
        consumed = HeaderLength + length;
        return OperationStatus.Done;
    }

    /// <summary>After <see cref="OperationStatus.NeedMoreData"/>: how many more bytes the frame needs (the header first, then the body).</summary>
    public static int MissingBytes(ReadOnlySpan<byte> input) =>
        input.Length < HeaderLength ? HeaderLength - input.Length : HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(input) - input.Length;
}
