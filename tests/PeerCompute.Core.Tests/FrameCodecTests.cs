using System.Buffers;
using System.Text;
using CsCheck;
using PeerCompute.Core.Protocol;

namespace PeerCompute.Core.Tests;

public class FrameCodecTests
{
    private static readonly DeployRequest Sample = new(
        "registry.local/app:1.4", Timestamp: 1_700_000_000_000, Nonce: "bm9uY2Vub25jZW5vbmNlMQ==", Name: "web",
        CpuMillicores: 500, MemoryBytes: 256L << 20, Port: 8080,
        Env: new Dictionary<string, string> { ["MODE"] = "prod" }, Command: ["httpd", "-f"]);

    [Test]
    public async Task Header_is_type_then_big_endian_length()
    {
        var frame = FrameCodec.Encode(FrameType.Error, new ErrorResponse("x", "y"), ProtocolJsonContext.Default.ErrorResponse);
        string json = """{"code":"x","message":"y"}""";
        await Assert.That(frame[0]).IsEqualTo((byte)9);
        await Assert.That(Hex.Of(frame.AsSpan(1, 4))).IsEqualTo(json.Length.ToString("x8"));
        await Assert.That(Encoding.UTF8.GetString(frame.AsSpan(5))).IsEqualTo(json);
    }

    [Test]
    public async Task A_deploy_request_round_trips()
    {
        var frame = FrameCodec.Encode(FrameType.DeployRequest, Sample, ProtocolJsonContext.Default.DeployRequest);
        var status = FrameCodec.TryRead(new ReadOnlySequence<byte>(frame), FrameCodec.DefaultMaxPayloadLength, out var type, out var payload, out _, out _);
        await Assert.That(status).IsEqualTo(OperationStatus.Done);
        await Assert.That(type).IsEqualTo(FrameType.DeployRequest);
        var decoded = FrameCodec.Deserialize(payload, ProtocolJsonContext.Default.DeployRequest);
        await Assert.That(decoded.Image).IsEqualTo(Sample.Image);
        await Assert.That(decoded.Env!["MODE"]).IsEqualTo("prod");
        await Assert.That(decoded.Command!.Count).IsEqualTo(2);
        await Assert.That(decoded with { Env = Sample.Env, Command = Sample.Command }).IsEqualTo(Sample);
    }

    [Test]
    public async Task Too_large_a_length_is_refused_from_the_header_alone()
    {
        byte[] header = [1, 0x00, 0x10, 0x00, 0x01]; // 1 MiB + 1, nothing of the payload yet
        var status = FrameCodec.TryRead(new ReadOnlySequence<byte>(header), FrameCodec.DefaultMaxPayloadLength, out _, out _, out _, out var error);
        await Assert.That(status).IsEqualTo(OperationStatus.InvalidData);
        await Assert.That(error!.Code).IsEqualTo(ErrorCodes.FrameTooLarge);
    }

    [Test]
    public async Task The_limit_is_an_option()
    {
        var frame = FrameCodec.Encode(FrameType.DeployRequest, Sample, ProtocolJsonContext.Default.DeployRequest);
        var status = FrameCodec.TryRead(new ReadOnlySequence<byte>(frame), 16, out _, out _, out _, out var error);
        await Assert.That(status).IsEqualTo(OperationStatus.InvalidData);
        await Assert.That(error!.Code).IsEqualTo(ErrorCodes.FrameTooLarge);
    }

    [Test]
    [Arguments((byte)0)]
    [Arguments((byte)12)]
    [Arguments((byte)255)]
    public async Task Unknown_types_are_refused_at_the_first_byte(byte type)
    {
        var status = FrameCodec.TryRead(new ReadOnlySequence<byte>([type]), 1024, out _, out _, out _, out var error);
        await Assert.That(status).IsEqualTo(OperationStatus.InvalidData);
        await Assert.That(error!.Code).IsEqualTo(ErrorCodes.UnknownType);
    }

    [Test]
    public async Task Exactly_the_declared_frame_types_are_known()
    {
        var declared = Enum.GetValues<FrameType>().Select(t => (int)(byte)t).ToHashSet();
        for (int value = 0; value < 256; value++)
            await Assert.That(FrameTypes.IsDefined((byte)value)).IsEqualTo(declared.Contains(value));
    }

    [Test]
    public async Task A_partial_frame_needs_more_data()
    {
        var frame = FrameCodec.Encode(FrameType.DeployRequest, Sample, ProtocolJsonContext.Default.DeployRequest);
        for (int cut = 0; cut < frame.Length; cut++)
        {
            var status = FrameCodec.TryRead(new ReadOnlySequence<byte>(frame, 0, cut), 1 << 20, out _, out _, out _, out _);
            await Assert.That(status).IsEqualTo(OperationStatus.NeedMoreData);
        }
    }

    [Test]
    [Arguments("{not json")]
    [Arguments("[]")]
    [Arguments("null")]
    [Arguments("""{"timestamp":1,"nonce":"n"}""")]           // image missing
    [Arguments("""{"image":null,"timestamp":1,"nonce":"n"}""")] // image null
    [Arguments("""{"image":"a","timestamp":"soon","nonce":"n"}""")]
    public async Task Malformed_json_is_a_typed_error(string json)
    {
        await Assert.That(() => FrameCodec.Deserialize(Encoding.UTF8.GetBytes(json).AsSpan(), ProtocolJsonContext.Default.DeployRequest))
            .Throws<FrameException>().WithMessageContaining("DeployRequest");
    }

    [Test]
    public async Task Frames_split_across_segments_decode_the_same()
    {
        var a = FrameCodec.Encode(FrameType.DeployRequest, Sample, ProtocolJsonContext.Default.DeployRequest);
        var b = FrameCodec.Encode(FrameType.StopRequest, new StopRequest("web", 1, "n"), ProtocolJsonContext.Default.StopRequest);
        byte[] both = [.. a, .. b];
        var frames = DecodeAll(Segments.Split(both, [3, 7, 40]));
        await Assert.That(frames.Select(f => f.Type).ToArray()).IsEquivalentTo(new[] { FrameType.DeployRequest, FrameType.StopRequest });
        await Assert.That(frames[1].Json).IsEqualTo(Encoding.UTF8.GetString(b.AsSpan(5)));
    }

    [Test]
    public void Property_encode_then_decode_round_trips()
    {
        var gen = Gen.Select(Gen.String, Gen.Int[1, 4000], Gen.Long[1, 4L << 30], Gen.Dictionary(Gen.String.AlphaNumeric, Gen.String)[0, 5], Gen.String[0, 20].Array[0, 4])
            .Select((image, cpu, mem, env, cmd) => new DeployRequest(image, 42, "nonce", CpuMillicores: cpu, MemoryBytes: mem, Env: env, Command: cmd));
        gen.Sample(request =>
        {
            var frame = FrameCodec.Encode(FrameType.DeployRequest, request, ProtocolJsonContext.Default.DeployRequest);
            if (FrameCodec.TryRead(frame, 1 << 20, out var type, out var payload, out int consumed, out _) != OperationStatus.Done || type != FrameType.DeployRequest || consumed != frame.Length)
                return false;
            var back = FrameCodec.Deserialize(payload, ProtocolJsonContext.Default.DeployRequest);
            return back.Image == request.Image && back.CpuMillicores == request.CpuMillicores && back.MemoryBytes == request.MemoryBytes
                && back.Env!.Count == request.Env!.Count && request.Env.All(kv => back.Env[kv.Key] == kv.Value)
                && back.Command!.SequenceEqual(request.Command!);
        }, iter: 2000);
    }

    [Test]
    public void Property_arbitrary_bytes_split_anywhere_never_throw_or_stall()
    {
        var gen = Gen.Select(Gen.Byte.Array[0, 300], Gen.Int[1, 50].Array[0, 6]);
        gen.Sample((bytes, cuts) =>
        {
            // Bias towards valid types so the length and JSON paths are reached too.
            if (bytes.Length > 0)
                bytes[0] = (byte)(bytes[0] % 12);
            var frames = DecodeAll(Segments.Split(bytes, cuts), maxPayload: 128, tolerateErrors: true);
            foreach (var f in frames)
            {
                try { FrameCodec.Deserialize(Encoding.UTF8.GetBytes(f.Json).AsSpan(), ProtocolJsonContext.Default.StatusRequest); }
                catch (FrameException) { }
            }
        }, iter: 5000);
    }

    private static List<(FrameType Type, string Json)> DecodeAll(ReadOnlySequence<byte> input, int maxPayload = 1 << 20, bool tolerateErrors = false)
    {
        var frames = new List<(FrameType, string)>();
        while (true)
        {
            long before = input.Length;
            var status = FrameCodec.TryRead(input, maxPayload, out var type, out var payload, out var consumed, out var error);
            if (status == OperationStatus.Done)
            {
                frames.Add((type, Encoding.UTF8.GetString(payload.ToArray())));
                input = input.Slice(consumed);
                if (input.Length >= before)
                    throw new InvalidOperationException("decoder made no progress");
                continue;
            }
            if (status == OperationStatus.InvalidData && !tolerateErrors)
                throw error!;
            return frames;
        }
    }
}

