using System.Diagnostics;
using System.Security.Cryptography;
using PeerCompute.Mux;

namespace PeerCompute.Net.Protocols;

/// <summary><c>/ipfs/ping/1.0.0</c>: the opener sends 32 random bytes, the responder echoes them, repeatably.</summary>
internal static class PingProtocol
{
    public const string ProtocolId = "/ipfs/ping/1.0.0";
    public const int PayloadSize = 32;

    /// <summary>Echoes every 32-byte ping until the opener's FIN (js FINs right after its ping), then half-closes.</summary>
    public static async Task RespondAsync(YamuxStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[PayloadSize];
        while (true)
        {
            int filled = 0;
            while (filled < PayloadSize)
            {
                int n = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    break;
                filled += n;
            }
            if (filled < PayloadSize)
                break;
            await stream.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        await stream.CompleteWritesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One ping on a fresh stream; returns the round-trip time.</summary>
    public static async Task<TimeSpan> PingAsync(YamuxStream stream, CancellationToken cancellationToken)
    {
        var sent = RandomNumberGenerator.GetBytes(PayloadSize);
        var received = new byte[PayloadSize];
        long start = Stopwatch.GetTimestamp();
        await stream.WriteAsync(sent, cancellationToken).ConfigureAwait(false);
        try
        {
            await stream.ReadExactlyAsync(received, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            throw new Libp2pProtocolException("ping: the peer closed the stream without answering");
        }
        var elapsed = Stopwatch.GetElapsedTime(start);
        if (!sent.AsSpan().SequenceEqual(received))
            throw new Libp2pProtocolException("ping: the peer answered with other bytes");
        return elapsed;
    }
}
