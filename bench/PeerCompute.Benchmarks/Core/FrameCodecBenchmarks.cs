using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using PeerCompute.Core.Protocol;

namespace PeerCompute.Benchmarks.Core;

/// <summary>
/// Encode and decode of a typical DeployRequest frame. The reference is plain System.Text.Json
/// serialization to a byte array (what a naive codec would do), measured in the same run.
/// </summary>
[MemoryDiagnoser]
public class FrameCodecBenchmarks
{
    private readonly DeployRequest _request = new(
        "registry.example/sam/app:1.4", Timestamp: 1_764_000_000_000, Nonce: "q83vEjRWeJCrze8SNFZ4kA==", Name: "web",
        CpuMillicores: 500, MemoryBytes: 256L << 20, Port: 8080,
        Env: new Dictionary<string, string> { ["MODE"] = "production", ["LOG_LEVEL"] = "info" },
        Command: ["/app/server", "--port", "8080"]);

    private readonly ArrayBufferWriter<byte> _writer = new(1024);
    private byte[] _frame = [];

    [GlobalSetup]
    public void Setup() => _frame = FrameCodec.Encode(FrameType.DeployRequest, _request, ProtocolJsonContext.Default.DeployRequest);

    [Benchmark(Baseline = true, Description = "reference: JsonSerializer.SerializeToUtf8Bytes")]
    public byte[] Reference_serialize() => JsonSerializer.SerializeToUtf8Bytes(_request, ProtocolJsonContext.Default.DeployRequest);

    [Benchmark(Description = "encode frame (reused writer)")]
    public int Encode()
    {
        _writer.ResetWrittenCount();
        return FrameCodec.Write(_writer, FrameType.DeployRequest, _request, ProtocolJsonContext.Default.DeployRequest);
    }

    [Benchmark(Description = "decode header (span)")]
    public int DecodeHeader()
    {
        FrameCodec.TryRead(_frame.AsSpan(), FrameCodec.DefaultMaxPayloadLength, out _, out var payload, out int consumed, out _);
        return payload.Length + consumed;
    }

    [Benchmark(Description = "decode frame + JSON to DeployRequest")]
    public DeployRequest Decode()
    {
        FrameCodec.TryRead(_frame.AsSpan(), FrameCodec.DefaultMaxPayloadLength, out _, out var payload, out _, out _);
        return FrameCodec.Deserialize(payload, ProtocolJsonContext.Default.DeployRequest);
    }
}
