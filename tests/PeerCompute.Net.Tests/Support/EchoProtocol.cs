using System.Security.Cryptography;
using PeerCompute.Net.Host;

namespace PeerCompute.Net.Tests.Support;

/// <summary>The test-only echo protocol (<c>/peercompute/echo/1.0.0</c>): echoes every byte until FIN, then FINs.</summary>
internal static class EchoProtocol
{
    public const string Id = "/peercompute/echo/1.0.0";

    public static void Register(Libp2pHost host) => host.SetStreamHandler(Id, async (stream, ct) =>
    {
        await stream.Stream.CopyToAsync(stream.Stream, 256 * 1024, ct);
        await stream.Stream.CompleteWritesAsync(ct);
    });

    /// <summary>Sends <paramref name="bytes"/> of random data on a new echo stream; true when the same bytes came back.</summary>
    public static async Task<bool> RoundTripAsync(Libp2pConnection connection, int bytes, CancellationToken ct = default)
    {
        await using var stream = await connection.OpenStreamAsync(Id, ct);
        var payload = RandomNumberGenerator.GetBytes(bytes);
        var reading = Task.Run(async () =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[256 * 1024];
            int n;
            while ((n = await stream.Stream.ReadAsync(buffer, ct)) > 0)
                hash.AppendData(buffer, 0, n);
            return hash.GetHashAndReset();
        }, ct);
        await stream.Stream.WriteAsync(payload, ct);
        await stream.Stream.CompleteWritesAsync(ct);
        return (await reading).AsSpan().SequenceEqual(SHA256.HashData(payload));
    }
}
