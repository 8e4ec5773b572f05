using System.IO.Pipelines;
using PeerCompute.Core.IO;

namespace PeerCompute.Mux;

/// <summary>An <see cref="IDuplexPipe"/> seen as one duplex <see cref="Stream"/>, so a yamux session can run over a pipe.</summary>
internal sealed class DuplexPipeStream(IDuplexPipe pipe) : DuplexStream
{
    private readonly Stream _input = pipe.Input.AsStream();
    private readonly Stream _output = pipe.Output.AsStream();

    public override Task FlushAsync(CancellationToken cancellationToken) => _output.FlushAsync(cancellationToken);
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _input.ReadAsync(buffer, cancellationToken);
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _output.WriteAsync(buffer, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            pipe.Input.Complete();
            pipe.Output.Complete();
        }
        base.Dispose(disposing);
    }
}
