using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace PeerCompute.Core.Protocol;

/// <summary>
/// The application frame: <c>type u8 | length u32 big-endian | UTF-8 JSON</c>. Decoding is a pure function over
/// bytes: it bounds the length before anything is buffered and never throws for bad input. Like every parser in the
/// code base it answers <see cref="OperationStatus.Done"/>, <see cref="OperationStatus.NeedMoreData"/> (call again
/// with more input) or <see cref="OperationStatus.InvalidData"/> (the input can never become a frame; see the error).
/// </summary>
public static class FrameCodec
{
    public const int HeaderLength = 5;
    public const int DefaultMaxPayloadLength = 1024 * 1024;

    // One reusable JSON writer per thread keeps encoding allocation-free.
    [ThreadStatic]
    private static Utf8JsonWriter? t_jsonWriter;

    public static OperationStatus TryRead(
        ReadOnlySequence<byte> input,
        int maxPayloadLength,
        out FrameType type,
        out ReadOnlySequence<byte> payload,
        out SequencePosition consumed,
        out FrameException? error)
    {
        type = default;
        payload = default;
        consumed = input.Start;
        error = null;
        if (input.Length < HeaderLength)
        {
            // Reject an unknown type as soon as its byte arrives.
            if (!input.IsEmpty && !FrameTypes.IsDefined(input.FirstSpan[0]))
            {
                error = UnknownType(input.FirstSpan[0]);
                return OperationStatus.InvalidData;
            }
            return OperationStatus.NeedMoreData;
        }
        Span<byte> header = stackalloc byte[HeaderLength];
        input.Slice(0, HeaderLength).CopyTo(header);
        if (!FrameTypes.IsDefined(header[0]))
        {
            error = UnknownType(header[0]);
            return OperationStatus.InvalidData;
        }
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (length > (uint)maxPayloadLength)
        {
            error = new FrameException(ErrorCodes.FrameTooLarge, $"Frame of {length} bytes exceeds the limit of {maxPayloadLength} bytes.");
            return OperationStatus.InvalidData;
        }
        if (input.Length - HeaderLength < length)
            return OperationStatus.NeedMoreData;
        type = (FrameType)header[0];
        payload = input.Slice(HeaderLength, length);
        consumed = payload.End;
        return OperationStatus.Done;
    }

    public static OperationStatus TryRead(ReadOnlySpan<byte> input, int maxPayloadLength, out FrameType type, out ReadOnlySpan<byte> payload, out int consumed, out FrameException? error)
    {
        type = default;
        payload = default;
        consumed = 0;
        error = null;
        if (!input.IsEmpty && !FrameTypes.IsDefined(input[0]))
        {
            error = UnknownType(input[0]);
            return OperationStatus.InvalidData;
        }
        if (input.Length < HeaderLength)
            return OperationStatus.NeedMoreData;
        uint length = BinaryPrimitives.ReadUInt32BigEndian(input[1..]);
        if (length > (uint)maxPayloadLength)
        {
            error = new FrameException(ErrorCodes.FrameTooLarge, $"Frame of {length} bytes exceeds the limit of {maxPayloadLength} bytes.");
            return OperationStatus.InvalidData;
        }
        if (input.Length - HeaderLength < length)
            return OperationStatus.NeedMoreData;
        type = (FrameType)input[0];
        payload = input.Slice(HeaderLength, (int)length);
        consumed = HeaderLength + (int)length;
        return OperationStatus.Done;
    }

    /// <summary>Writes a frame holding <paramref name="json"/> as it is.</summary>
    public static void WriteRaw(IBufferWriter<byte> writer, FrameType type, ReadOnlySpan<byte> json)
    {
        var span = writer.GetSpan(HeaderLength + json.Length);
        span[0] = (byte)type;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)json.Length);
        json.CopyTo(span[HeaderLength..]);
        writer.Advance(HeaderLength + json.Length);
    }

    /// <summary>Serializes <paramref name="value"/> straight into <paramref name="writer"/> as one frame; returns the payload length.</summary>
    public static int Write<T>(ArrayBufferWriter<byte> writer, FrameType type, T value, JsonTypeInfo<T> typeInfo)
    {
        int start = writer.WrittenCount;
        var header = writer.GetSpan(HeaderLength);
        header[0] = (byte)type;
        writer.Advance(HeaderLength);
        var json = t_jsonWriter;
        if (json is null)
            t_jsonWriter = json = new Utf8JsonWriter(writer, new JsonWriterOptions { SkipValidation = true });
        else
            json.Reset(writer);
        try
        {
            JsonSerializer.Serialize(json, value, typeInfo);
        }
        finally
        {
            json.Reset(Stream.Null); // do not keep the caller's buffer alive
        }
        int length = writer.WrittenCount - start - HeaderLength;
        // ArrayBufferWriter's written memory is contiguous, so the length can be filled in afterwards.
        var written = System.Runtime.InteropServices.MemoryMarshal.AsMemory(writer.WrittenMemory);
        BinaryPrimitives.WriteUInt32BigEndian(written.Span.Slice(start + 1, 4), (uint)length);
        return length;
    }

    public static byte[] Encode<T>(FrameType type, T value, JsonTypeInfo<T> typeInfo)
    {
        var writer = new ArrayBufferWriter<byte>(256);
        Write(writer, type, value, typeInfo);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a payload as <typeparamref name="T"/>; malformed JSON, or a missing required field, is a <see cref="FrameException"/>.</summary>
    public static T Deserialize<T>(ReadOnlySpan<byte> payload, JsonTypeInfo<T> typeInfo)
    {
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 16 });
            return Checked(JsonSerializer.Deserialize(ref reader, typeInfo) ?? throw Malformed(typeInfo, "null"), typeInfo);
        }
        catch (JsonException ex)
        {
            throw Malformed(typeInfo, ex.Message);
        }
    }

    public static T Deserialize<T>(ReadOnlySequence<byte> payload, JsonTypeInfo<T> typeInfo)
    {
        if (payload.IsSingleSegment)
            return Deserialize(payload.FirstSpan, typeInfo);
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 16 });
            return Checked(JsonSerializer.Deserialize(ref reader, typeInfo) ?? throw Malformed(typeInfo, "null"), typeInfo);
        }
        catch (JsonException ex)
        {
            throw Malformed(typeInfo, ex.Message);
        }
    }

    private static T Checked<T>(T value, JsonTypeInfo<T> typeInfo) =>
        value is ICheckedMessage { Problem: { } problem } ? throw Malformed(typeInfo, problem) : value;

    private static FrameException Malformed<T>(JsonTypeInfo<T> typeInfo, string detail) =>
        new(ErrorCodes.MalformedFrame, $"Malformed {typeof(T).Name} JSON: {detail}");

    private static FrameException UnknownType(byte value) =>
        new(ErrorCodes.UnknownType, $"Unknown frame type {value}.");
}
