using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Core.Protocol;
using PeerCompute.Net.Host;

namespace PeerCompute.System.Tests.Infrastructure;

/// <summary>A libp2p client in the test process that sends bytes as they are, as an attacker could.</summary>
internal sealed class RawProviderClient : IAsyncDisposable
{
    private readonly Libp2pHost _host;
    private readonly Libp2pConnection _connection;

    private RawProviderClient(Libp2pHost host, Libp2pConnection connection)
    {
        _host = host;
        _connection = connection;
    }

    public static async Task<RawProviderClient> ConnectAsync(PeerIdentity identity, string address, string providerId)
    {
        var host = new Libp2pHost(identity);
        var connection = await host.DialAsync(Multiaddr.Parse($"{address}/p2p/{providerId}"));
        return new RawProviderClient(host, connection);
    }

    /// <summary>Writes <paramref name="bytes"/> on a new stream and returns the first frame of the answer.</summary>
    public async Task<Answer> ExchangeAsync(byte[] bytes, bool closeWrites = false) =>
        await ExchangeOrClosedAsync(bytes, closeWrites) ?? throw new InvalidOperationException("The provider closed the stream without an answer.");

    /// <summary>As <see cref="ExchangeAsync"/>, with null when the provider closed the stream without answering.</summary>
    public async Task<Answer?> ExchangeOrClosedAsync(byte[] bytes, bool closeWrites = true)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var stream = await _connection.OpenStreamAsync(ProtocolIds.PeerCompute, timeout.Token);
        await stream.Stream.WriteAsync(bytes, timeout.Token);
        if (closeWrites)
            await stream.Stream.CompleteWritesAsync(timeout.Token);
        using var frame = await new FrameReader(stream.Stream).ReadAsync(timeout.Token);
        return frame is { } f ? new Answer(f.Type, global::System.Text.Encoding.UTF8.GetString(f.Payload)) : null;
    }

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync();
        await _host.DisposeAsync();
    }

    internal sealed record Answer(FrameType Type, string Json)
    {
        public override string ToString() => $"{Type} {Json}";
    }
}
